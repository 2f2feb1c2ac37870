"""The record observer: price each finished request, count it, hand it to the ledger.

Runs on the event loop once per request, so it only does dictionary look-ups and arithmetic:
the price comes from the catalogue (memoised per model), the metrics are in-memory counters,
and the row goes to the ledger's queue; the writing happens on the ledger's thread. It sets
`record.cost_usd`, which the request's log line and the execution API's task totals carry.
"""

from __future__ import annotations

from collections.abc import Callable

from ccr import jsonlib
from ccr.config import Config
from ccr.proxy.records import RecordedExchange, RequestRecord

from .catalogue import Books
from .ledger import Ledger
from .metrics import Labels, Metrics
from .store import UsageRow

__all__ = ["UsageObserver", "row_of"]

_MAX_NAME = 200  # characters of a model name kept: a client may send anything


class UsageObserver:
    def __init__(self, ledger: Ledger, books: Books, metrics: Metrics,
                 config: Callable[[], Config]) -> None:
        self._ledger, self._books, self._metrics, self._config = ledger, books, metrics, config
        self._labels: Labels | None = None

    def __call__(self, exchange: RecordedExchange) -> None:
        record = exchange.record
        config = self._config()
        if record.provider and record.cost_usd is None:
            info = self._books.of(config).info(record.provider, record.model)
            record.cost_usd = info.cost(record.input_tokens, record.output_tokens,
                                        record.cache_read_tokens, record.cache_write_tokens)
        labels = self._labels
        if labels is None or labels.config is not config:
            labels = self._labels = Labels(config)
        self._metrics.observe(record, *labels.of(record.provider, record.model))
        self._ledger.add(row_of(record))


def row_of(record: RequestRecord) -> UsageRow:
    attempts = None
    if len(record.attempts) > 1:
        attempts = jsonlib.dumps_str([
            {"provider": a.provider, "model": a.model[:_MAX_NAME], "status": a.status, "error": a.error}
            for a in record.attempts])
    return UsageRow(  # positional, in field order: a request's row, made on the loop
        record.started_at, record.request_id, record.front, record.stream, record.route_reason,
        record.provider, record.model[:_MAX_NAME], record.status, record.error, record.input_tokens,
        record.output_tokens, record.cache_read_tokens, record.cache_write_tokens, record.cost_usd,
        record.latency_ms, record.ttfb_ms, attempts, record.fallback, record.session_id, record.task_id,
        record.max_tokens_clamped)
