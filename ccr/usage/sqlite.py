"""The ledger in SQLite: `$CCR_HOME/usage.sqlite3`, WAL mode, one table.

WAL lets `ccr usage` read while the service writes. Sums are done by SQLite; `SUM(cost_usd)`
is NULL when every row's price was unknown, which is exactly the answer wanted. Latency
percentiles cover the last 2000 requests of each key in the window.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from itertools import chain
from pathlib import Path
from typing import Any

from .store import BYS, GROUPS, Bucket, By, Counters, Group, Percentiles, Report, Row, UsageRow

__all__ = ["SQLiteStore", "FILENAME"]

FILENAME = "usage.sqlite3"
_SCHEMA_VERSION = 1
_PERCENTILE_WINDOW = 2000
_COLUMNS = [f.name for f in fields(UsageRow)]
# sqlite3 binds None and bool through its adapter registry, about 3,000 instructions each and
# most of a row's cost. Rows are bound with plain values instead: ints for bools, and for an
# unset value a sentinel no real value takes ("" or -1), which the INSERT turns back into NULL.
_SENTINELS = {"error": "''", "cost_usd": "-1", "ttfb_ms": "-1", "attempts": "''", "session_id": "''",
              "task_id": "''", "max_tokens_clamped": "-1"}
_ROW = "(" + ", ".join(f"NULLIF(?, {_SENTINELS[c]})" if c in _SENTINELS else "?" for c in _COLUMNS) + ")"
# A batch is written in few statements of many rows each: one sqlite3 step per statement (the
# writer thread gives up the GIL once per step), rather than one per row. Chunk sizes are powers
# of two so only a few statements are ever prepared, and stay in the connection's cache; the
# largest fits the library's limit on bound values (999 before SQLite 3.32, 32,766 since).
_CHUNKS = (128, 64, 32, 16, 8, 4, 2, 1)
_INSERTS = {n: f"INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES " + ", ".join([_ROW] * n)
            for n in _CHUNKS}


def _bound(row: UsageRow) -> tuple[Any, ...]:
    """The row's values for one `_ROW`, in column order (UsageRow's field order)."""
    return (row.started_at, row.request_id, row.front, int(row.stream), row.route_reason, row.provider,
            row.model, row.status, row.error or "", row.input_tokens, row.output_tokens,
            row.cache_read_tokens, row.cache_write_tokens, -1 if row.cost_usd is None else row.cost_usd,
            row.latency_ms, -1 if row.ttfb_ms is None else row.ttfb_ms, row.attempts or "",
            int(row.fallback), row.session_id or "", row.task_id or "",
            -1 if row.max_tokens_clamped is None else row.max_tokens_clamped)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL, request_id TEXT NOT NULL, front TEXT NOT NULL,
    stream INTEGER NOT NULL, route_reason TEXT NOT NULL, provider TEXT NOT NULL,
    model TEXT NOT NULL, status INTEGER NOT NULL, error TEXT,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL, latency_ms REAL NOT NULL, ttfb_ms REAL, attempts TEXT,
    fallback INTEGER NOT NULL, session_id TEXT, task_id TEXT, max_tokens_clamped INTEGER
);
CREATE INDEX IF NOT EXISTS requests_started_at ON requests (started_at);
"""
_NULL = "CAST(NULL AS TEXT)"
_KEYS: dict[str, tuple[str, str, str]] = {   # by -> (key, provider, model) expressions
    "model": ("provider || ',' || model", "provider", "model"),
    "provider": ("provider", "provider", _NULL),
    "session": ("COALESCE(session_id, '(none)')", _NULL, _NULL),
    "task": ("COALESCE(task_id, '(none)')", _NULL, _NULL),
}
# Portable SQL (SQLite and PostgreSQL, see ccr.usage.postgres): CASE rather than summing booleans.
_SUMS = """COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(CASE WHEN fallback THEN 1 ELSE 0 END),
    SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
    SUM(cost_usd), AVG(latency_ms), SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN max_tokens_clamped IS NOT NULL THEN 1 ELSE 0 END)"""
_WHERE = "WHERE started_at >= ? AND started_at < ?"


class SQLiteStore:
    """The `Store` in one SQLite file. Use it from one thread at a time."""

    _table = "requests"

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                       check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # session ids: not for others
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across crashes of ccr
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self._db.execute("PRAGMA busy_timeout=5000")

    def append(self, rows: Sequence[UsageRow]) -> None:
        if not rows:
            return
        most = self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(_COLUMNS)
        with self._db:
            start = 0
            for size in (n for n in _CHUNKS if n <= most):
                while len(rows) - start >= size:
                    values = tuple(chain.from_iterable(map(_bound, rows[start:start + size])))
                    self._db.execute(_INSERTS[size], values)
                    start += size

    def prune(self, before: float) -> int:
        with self._db:
            return self._db.execute("DELETE FROM requests WHERE started_at < ?", (before,)).rowcount

    def close(self) -> None:
        self._db.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Execute a query written with `?` placeholders; iterate the result."""
        return self._db.execute(sql, params)

    def _bucket(self, size: int) -> str:
        return f"CAST(started_at / {size} AS INTEGER) * {size}"

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read snapshot for a report's several statements: the service (or, on PostgreSQL,
        another replica) writes while they run, and a key must not appear half-way."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def query(self, since: float, until: float, group: Group | None, by: By) -> Report:
        with self._snapshot():
            return self._query(since, until, group, by)

    def _query(self, since: float, until: float, group: Group | None, by: By) -> Report:
        if by not in BYS or (group is not None and group not in GROUPS):
            raise ValueError(f"by must be one of {BYS}, group one of {GROUPS}")
        key, provider, model = _KEYS[by]
        span = (since, until)
        total_row = self._run(f"SELECT {_SUMS} FROM {self._table} {_WHERE}", span).fetchone()
        total = _counters(total_row)
        total.errors_by_status = {str(s): n for s, n in self._run(
            f"SELECT status, COUNT(*) FROM {self._table} {_WHERE} AND status >= 400 "
            "GROUP BY status ORDER BY status", span)}
        rows: dict[str, Row] = {}
        for k, p, m, *sums in self._run(
                f"SELECT {key} AS k, MIN({provider}), MIN({model}), {_SUMS} FROM {self._table} {_WHERE} "
                "GROUP BY k ORDER BY k", span):
            rows[k] = Row(k, p, m, _counters(sums))
        for k, status, n in self._run(
                f"SELECT {key} AS k, status, COUNT(*) FROM {self._table} {_WHERE} AND status >= 400 "
                "GROUP BY k, status ORDER BY status", span):
            rows[k].counters.errors_by_status[str(status)] = n
        self._percentiles(key, span, rows)
        series: list[Bucket] = []
        if group is not None:
            size = 3600 if group == "hour" else 86400
            for b, k, *sums in self._run(
                    f"SELECT {self._bucket(size)} AS b, {key} AS k, {_SUMS} "
                    f"FROM {self._table} {_WHERE} GROUP BY b, k ORDER BY b, k", span):
                series.append(Bucket(float(b), k, _counters(sums)))
        return Report(since, until, by, group, total, list(rows.values()), series)

    def _percentiles(self, key: str, span: tuple[float, float], rows: dict[str, Row]) -> None:
        samples: dict[str, tuple[list[float], list[float]]] = {}
        for k, latency, ttfb in self._run(
                f"SELECT k, latency_ms, ttfb_ms FROM (SELECT {key} AS k, latency_ms, ttfb_ms, "
                "ROW_NUMBER() OVER (PARTITION BY " + key + " ORDER BY started_at DESC) AS n "
                f"FROM {self._table} {_WHERE}) AS ranked WHERE n <= {_PERCENTILE_WINDOW}", span):
            lat, first = samples.setdefault(k, ([], []))
            lat.append(latency)
            if ttfb is not None:
                first.append(ttfb)
        for k, (lat, first) in samples.items():
            rows[k].counters.latency_ms = _percentiles(lat)
            rows[k].counters.ttfb_ms = _percentiles(first)


def _counters(sums: Sequence[Any]) -> Counters:
    requests, errors, fallbacks, inp, out, read, write, cost, latency, unpriced, clamped = sums
    return Counters(
        requests=requests or 0, errors=errors or 0, fallbacks=fallbacks or 0,
        input_tokens=inp or 0, output_tokens=out or 0, cache_read_tokens=read or 0,
        cache_write_tokens=write or 0, cost_usd=None if cost is None else round(cost, 10),
        latency_ms_avg=None if latency is None else round(latency, 2), unpriced=unpriced or 0,
        clamped=clamped or 0)


def _percentiles(values: list[float]) -> Percentiles:
    if not values:
        return Percentiles()
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))], 2)

    return Percentiles(at(0.5), at(0.99))
