"""Where ledger rows are kept: the `Store` protocol, its row and its answers.

    store.append(rows)                              # one transaction
    report = store.query(since, until, group="day", by="model")
    store.prune(before)                             # retention

Stores are blocking: the ledger calls them from its own writer thread, never from the event
loop. Times are epoch seconds (UTC). `ccr.usage.sqlite.SQLiteStore` is the one in use; a
PostgreSQL store only has to implement these three methods and `close`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["UsageRow", "Counters", "Percentiles", "Row", "Bucket", "Report", "Store", "Group",
           "By", "GROUPS", "BYS"]

Group = Literal["hour", "day"]
By = Literal["model", "provider", "session", "task"]
GROUPS: tuple[Group, ...] = ("hour", "day")
BYS: tuple[By, ...] = ("model", "provider", "session", "task")


@dataclass(slots=True)
class UsageRow:
    """One proxied request, as kept (not frozen: one is made per request, on the loop)."""

    started_at: float
    request_id: str
    front: str
    stream: bool
    route_reason: str
    provider: str
    model: str
    status: int
    error: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    latency_ms: float
    ttfb_ms: float | None
    attempts: str | None          # JSON list of {provider, model, status, error}, when more than one
    fallback: bool
    session_id: str | None
    task_id: str | None
    max_tokens_clamped: int | None


@dataclass(slots=True)
class Percentiles:
    p50: float | None = None
    p99: float | None = None


@dataclass(slots=True)
class Counters:
    """Sums over a set of rows. `cost_usd` is None when no row of the set had a price;
    `unpriced` counts the rows whose price was unknown."""

    requests: int = 0
    errors: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None
    latency_ms_avg: float | None = None
    unpriced: int = 0
    clamped: int = 0              # requests whose max_tokens was lowered to the model's limit
    errors_by_status: dict[str, int] = field(default_factory=dict)
    latency_ms: Percentiles = field(default_factory=Percentiles)
    ttfb_ms: Percentiles = field(default_factory=Percentiles)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Row:
    key: str
    provider: str | None
    model: str | None
    counters: Counters


@dataclass(slots=True)
class Bucket:
    bucket: float          # start of the hour or day, epoch seconds
    key: str
    counters: Counters


@dataclass(slots=True)
class Report:
    since: float
    until: float
    by: By
    group: Group | None
    total: Counters
    rows: list[Row]
    series: list[Bucket]


class Store(Protocol):
    def append(self, rows: Sequence[UsageRow]) -> None:
        """Keep these rows (one transaction)."""

    def query(self, since: float, until: float, group: Group | None, by: By) -> Report:
        """Counters for rows with since <= started_at < until: in total, per key of `by`, and
        per hour or day and key when `group` is given."""

    def prune(self, before: float) -> int:
        """Forget rows started before `before`; how many went."""

    def close(self) -> None: ...
