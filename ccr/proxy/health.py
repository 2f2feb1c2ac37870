"""Which providers to skip for now: a circuit breaker per provider, and Retry-After.

    health.available("backup")      # False while its circuit is open or its Retry-After runs
    health.failed("backup", retry_after="12")
    health.succeeded("backup")

After `threshold` failures in a row a provider's circuit opens for `cooldown` seconds; then one
request may try it again (half-open): a success closes the circuit, a failure opens it again.
A provider's Retry-After (seconds, bounded by `max_retry_after`) keeps it skipped that long.
The pipeline skips a provider only while a later fallback target remains; the last target is
always tried, after waiting out its Retry-After when that is at most `max_wait` seconds. So a
route without fallbacks behaves as it always did.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Health", "retry_after_seconds"]


def retry_after_seconds(value: str | None, bound: float) -> float:
    """A Retry-After header in seconds (its HTTP-date form is ignored), capped at `bound`."""
    if not value:
        return 0.0
    try:
        seconds = float(value.strip())
    except ValueError:
        return 0.0
    if seconds != seconds or seconds <= 0:  # NaN or past
        return 0.0
    return min(seconds, bound)


@dataclass(slots=True)
class _Circuit:
    failures: int = 0           # in a row
    open_until: float = 0.0     # monotonic: the circuit is open until then
    retry_at: float = 0.0       # monotonic: the provider's Retry-After ends then


@dataclass(slots=True)
class Health:
    threshold: int = 3
    cooldown: float = 30.0
    max_retry_after: float = 60.0
    max_wait: float = 10.0
    _circuits: dict[str, _Circuit] = field(default_factory=dict)

    def available(self, provider: str) -> bool:
        circuit = self._circuits.get(provider)
        now = time.monotonic()
        return circuit is None or (now >= circuit.open_until and now >= circuit.retry_at)

    def wait(self, provider: str) -> float:
        """Seconds left of the provider's Retry-After, if worth waiting for (else 0)."""
        circuit = self._circuits.get(provider)
        left = circuit.retry_at - time.monotonic() if circuit is not None else 0.0
        return left if 0 < left <= self.max_wait else 0.0

    def failed(self, provider: str, retry_after: str | None = None) -> None:
        circuit = self._circuits.setdefault(provider, _Circuit())
        circuit.failures += 1
        now = time.monotonic()
        wait = retry_after_seconds(retry_after, self.max_retry_after)
        if wait:
            circuit.retry_at = max(circuit.retry_at, now + wait)
        if circuit.failures >= self.threshold:
            circuit.open_until = now + self.cooldown

    def succeeded(self, provider: str) -> None:
        self._circuits.pop(provider, None)

    def state(self) -> dict[str, dict[str, float | int]]:
        """Providers with failures: {"name": {"failures": n, "open_for_s": seconds}}."""
        now = time.monotonic()
        return {name: {"failures": c.failures,
                       "open_for_s": round(max(0.0, c.open_until - now, c.retry_at - now), 3)}
                for name, c in self._circuits.items()}
