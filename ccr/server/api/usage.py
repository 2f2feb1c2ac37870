"""Usage: `GET /api/stats` from the ledger, `GET /metrics`, and the usage layer's wiring.

    GET /api/stats?since=&until=&group=hour|day&by=model|provider|session|task
        {"since": iso, "until": iso, "by": "model", "group": null,
         "total": Counters, "rows": [Counters + {"key", "provider", "model"}],
         "series": [Counters + {"bucket", "key"}]          (only with group)
         "models": [...], "uptime_seconds": ...}            (the answer's older shape, by=model)
        Counters = {"requests", "errors", "fallbacks", "input_tokens", "output_tokens",
                    "cache_read_tokens", "cache_write_tokens", "cost_usd", "latency_ms_avg",
                    "unpriced", "errors_by_status", "latency_ms": {"p50", "p99"}, "ttfb_ms"}
    GET /metrics     Prometheus text format

`since`/`until` are ISO 8601 times (UTC unless they say otherwise) or epoch seconds; the
default is the last 30 days. `cost_usd` is the spend of requests with a known price, null
when none had one; `unpriced` counts the others. Both endpoints need the management key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from ccr.errors import CCRError, RequestError
from ccr.usage.catalogue import Books, base_catalogue
from ccr.usage.ledger import Ledger
from ccr.usage.limits import Limits
from ccr.usage.metrics import CONTENT_TYPE, Metrics
from ccr.usage.observe import UsageObserver
from ccr.usage.store import BYS, GROUPS, Counters, Report
from ccr.usage.stores import store_opener

from ..keys import RECORD_OBSERVERS, REQUEST_ADJUSTERS, RUNTIME, STATE

__all__ = ["setup", "LEDGER", "METRICS", "stats_answer"]

routes = web.RouteTableDef()
log = structlog.get_logger("ccr.usage")
LEDGER: web.AppKey[Ledger] = web.AppKey("usage_ledger", Ledger)
METRICS: web.AppKey[Metrics] = web.AppKey("usage_metrics", Metrics)
DEFAULT_SPAN = 30 * 86400.0


@routes.get("/api/stats")
async def stats(request: web.Request) -> web.Response:
    query = request.query
    until = _time(query.get("until"), "until", time.time())
    since = _time(query.get("since"), "since", until - DEFAULT_SPAN)
    if since >= until:
        raise RequestError("since must be before until")
    group = query.get("group") or None
    if group is not None and group not in GROUPS:
        raise RequestError(f"group must be one of {', '.join(GROUPS)}, got {group[:40]!r}")
    by = query.get("by") or "model"
    if by not in BYS:
        raise RequestError(f"by must be one of {', '.join(BYS)}, got {by[:40]!r}")
    try:
        report = await request.app[LEDGER].query(since, until, group, by)
    except Exception as exc:
        raise CCRError(f"the usage ledger is not available ({type(exc).__name__}); "
                       "the ccr log says why", status=503) from None
    answer = stats_answer(report)
    answer["uptime_seconds"] = round(request.app[STATE].uptime, 3)
    return web.json_response(answer)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def stats_answer(report: Report) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "since": _iso(report.since), "until": _iso(report.until), "by": report.by,
        "group": report.group, "total": _counters(report.total),
        "rows": [{"key": r.key, "provider": r.provider, "model": r.model, **_counters(r.counters)}
                 for r in report.rows],
    }
    if report.group is not None:
        answer["series"] = [{"bucket": _iso(b.bucket), "key": b.key, **_counters(b.counters)}
                            for b in report.series]
    if report.by == "model":  # the older answer's rows, which scripts and the UI read
        answer["models"] = [{
            "provider": r.provider, "model": r.model, "requests": r.counters.requests,
            "errors": r.counters.errors_by_status, "input_tokens": r.counters.input_tokens,
            "output_tokens": r.counters.output_tokens, "cache_read_tokens": r.counters.cache_read_tokens,
            "cache_write_tokens": r.counters.cache_write_tokens, "cost_usd": r.counters.cost_usd,
            "latency_ms": _percentiles(r.counters.latency_ms), "ttfb_ms": _percentiles(r.counters.ttfb_ms),
        } for r in report.rows]
    return answer


def _counters(c: Counters) -> dict[str, Any]:
    out = c.as_json()
    out["latency_ms"], out["ttfb_ms"] = _percentiles(c.latency_ms), _percentiles(c.ttfb_ms)
    return out


def _percentiles(p: Any) -> dict[str, float | None]:
    return {"p50": p.p50, "p99": p.p99}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time(value: str | None, name: str, default: float) -> float:
    if value is None or not value.strip():
        return default
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RequestError(f"{name}: expected an ISO 8601 time (2026-12-01T00:00:00Z) or "
                               f"epoch seconds, got {text[:40]!r}") from None
        number = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if not 0 <= number < 32503680000:  # year 3000
        raise RequestError(f"{name}: {text[:40]!r} is out of range")
    return number


# ---- wiring ----------------------------------------------------------------------------------

async def _usage_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the catalogue (off the loop), open the ledger, plug the observer and adjuster in."""
    catalogue = await asyncio.to_thread(base_catalogue)  # once per process
    books = Books(catalogue)

    def config() -> Any:
        return app[RUNTIME].config

    # SQLite under $CCR_HOME, or the shared database's table (DATABASE_URL), which every replica writes
    ledger = app[LEDGER] = Ledger(store_opener(config()),
                                  retention_days=lambda: books.of(config()).settings.retention_days)
    ledger.start()
    try:
        await ledger.started()
    except Exception as exc:  # the proxy works without a ledger; /api/stats answers 503
        log.error("usage ledger disabled", error=type(exc).__name__)
    # first: it sets cost_usd, which the observers after it (task totals, log line) read
    app[RECORD_OBSERVERS].insert(0, UsageObserver(ledger, books, app[METRICS], config))
    app[REQUEST_ADJUSTERS].append(Limits(books, lambda: app[RUNTIME]))
    yield
    await ledger.close()


def setup(app: web.Application) -> None:
    app[METRICS] = Metrics(open_streams=lambda: app[STATE].open_streams)
    app.cleanup_ctx.append(_usage_ctx)
    app.add_routes(routes)
