"""The ledger on the shared PostgreSQL database (DATABASE_URL): every replica writes its rows
there, so `/api/stats`, `ccr usage` and the UI show the whole team's use from any node.

Same queries as the SQLite store (`SQLiteStore`), through psycopg's blocking driver: the ledger
calls stores from its own writer thread, never from the event loop. The table comes with
`ccr db upgrade` (migration 2).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from operator import attrgetter
from typing import Any

import psycopg

from .sqlite import SQLiteStore
from .store import UsageRow

__all__ = ["PostgresStore"]

_COLUMNS = [f.name for f in fields(UsageRow)]
#: a row's values in column order (dataclasses.astuple deep-copies: 50 us a row, this 1 us)
_ROW_VALUES = attrgetter(*_COLUMNS)


class PostgresStore(SQLiteStore):
    """The `Store` in PostgreSQL's `ccr_requests` table. Use it from one thread at a time."""

    _table = "ccr_requests"

    def __init__(self, url: str) -> None:  # no SQLite file here: no super().__init__
        self.url = url
        self._pg = psycopg.connect(url, autocommit=True, connect_timeout=10)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._pg.execute(sql.replace("?", "%s"), params)

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        with self._pg.transaction():
            self._pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def _bucket(self, size: int) -> str:
        return f"FLOOR(started_at / {size}) * {size}"

    def append(self, rows: Sequence[UsageRow]) -> None:
        if not rows:
            return
        marks = ", ".join(["%s"] * len(_COLUMNS))
        with self._pg.transaction(), self._pg.cursor() as cursor:
            cursor.executemany(f"INSERT INTO ccr_requests ({', '.join(_COLUMNS)}) VALUES ({marks})",
                               [_ROW_VALUES(r) for r in rows])

    def prune(self, before: float) -> int:
        return self._pg.execute("DELETE FROM ccr_requests WHERE started_at < %s", (before,)).rowcount

    def close(self) -> None:
        self._pg.close()
