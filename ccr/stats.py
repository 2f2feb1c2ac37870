"""Per provider and model counters since start: requests, errors, tokens, latency percentiles."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .records import RequestRecord

__all__ = ["Stats"]

_WINDOW = 2000  # latency samples kept per provider and model for the percentiles


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[rank], 2)


@dataclass(slots=True)
class _Bucket:
    requests: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    latency: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    ttfb: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))


class Stats:
    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def record(self, rec: RequestRecord) -> None:
        bucket = self._buckets.setdefault((rec.provider or "-", rec.model or "-"), _Bucket())
        bucket.requests += 1
        if rec.status >= 400:
            bucket.errors[rec.status] += 1
        bucket.input_tokens += rec.input_tokens
        bucket.output_tokens += rec.output_tokens
        bucket.cache_read_tokens += rec.cache_read_tokens
        bucket.latency.append(rec.duration_ms)
        if rec.ttfb_ms is not None:
            bucket.ttfb.append(rec.ttfb_ms)

    def snapshot(self) -> list[dict[str, Any]]:
        rows = []
        for (provider, model), b in sorted(self._buckets.items()):
            latency, ttfb = list(b.latency), list(b.ttfb)
            rows.append({
                "provider": provider, "model": model, "requests": b.requests,
                "errors": {str(k): v for k, v in sorted(b.errors.items())},
                "input_tokens": b.input_tokens, "output_tokens": b.output_tokens,
                "cache_read_tokens": b.cache_read_tokens,
                "latency_ms": {"p50": _percentile(latency, 0.5), "p99": _percentile(latency, 0.99)},
                "ttfb_ms": {"p50": _percentile(ttfb, 0.5), "p99": _percentile(ttfb, 0.99)},
            })
        return rows
