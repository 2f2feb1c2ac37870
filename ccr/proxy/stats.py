"""Per provider and model counters since start: requests, errors, tokens, latency percentiles.

`GET /api/stats` answers `Stats.report()`:

    {"since": "2025-09-14T16:43:10.415Z", "uptime_seconds": 12.5,
     "total": {"requests": 3, "errors": 1, "input_tokens": 120, "output_tokens": 40},
     "models": [{"provider": "deepseek", "model": "deepseek-chat", "requests": 3,
                 "errors": {"502": 1}, "input_tokens": 120, "output_tokens": 40,
                 "cache_read_tokens": 0, "latency_ms": {"p50": 812.0, "p99": 1500.2},
                 "ttfb_ms": {"p50": 210.4, "p99": 300.0}}]}

Percentiles cover the last 2000 requests of each provider and model. A restart that applies a
new config keeps the counters (they belong to the process, not to the config).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .records import RecordedExchange, RequestRecord

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
    fallbacks: int = 0  # answered by a fallback target
    errors: Counter[int] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    latency: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    ttfb: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))


class Stats:
    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.started = time.time()
        self._started_monotonic = time.monotonic()

    def record(self, rec: RequestRecord) -> None:
        bucket = self._buckets.setdefault((rec.provider or "-", rec.model or "-"), _Bucket())
        bucket.requests += 1
        bucket.fallbacks += rec.fallback
        if rec.status >= 400:
            bucket.errors[rec.status] += 1
        bucket.input_tokens += rec.input_tokens
        bucket.output_tokens += rec.output_tokens
        bucket.cache_read_tokens += rec.cache_read_tokens
        bucket.latency.append(rec.latency_ms)
        if rec.ttfb_ms is not None:
            bucket.ttfb.append(rec.ttfb_ms)

    def observe(self, exchange: RecordedExchange) -> None:
        """The record observer (see ccr.proxy.records)."""
        self.record(exchange.record)

    def snapshot(self) -> list[dict[str, Any]]:
        rows = []
        for (provider, model), b in sorted(self._buckets.items()):
            latency, ttfb = list(b.latency), list(b.ttfb)
            rows.append({
                "provider": provider, "model": model, "requests": b.requests,
                "fallbacks": b.fallbacks,
                "errors": {str(k): v for k, v in sorted(b.errors.items())},
                "input_tokens": b.input_tokens, "output_tokens": b.output_tokens,
                "cache_read_tokens": b.cache_read_tokens,
                "latency_ms": {"p50": _percentile(latency, 0.5), "p99": _percentile(latency, 0.99)},
                "ttfb_ms": {"p50": _percentile(ttfb, 0.5), "p99": _percentile(ttfb, 0.99)},
            })
        return rows

    def report(self) -> dict[str, Any]:
        rows = self.snapshot()
        return {
            "since": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "uptime_seconds": round(time.monotonic() - self._started_monotonic, 3),
            "total": {
                "requests": sum(r["requests"] for r in rows),
                "errors": sum(sum(r["errors"].values()) for r in rows),
                "fallbacks": sum(r["fallbacks"] for r in rows),
                "input_tokens": sum(r["input_tokens"] for r in rows),
                "output_tokens": sum(r["output_tokens"] for r in rows),
            },
            "models": rows,
        }
