"""The ledger on PostgreSQL answers exactly what the SQLite ledger answers, for the same rows."""

from __future__ import annotations

import asyncio
import itertools
import random

from ccr.usage.postgres import PostgresStore
from ccr.usage.sqlite import FILENAME, SQLiteStore
from tests.usage.test_ledger import DAY, NOW, row


def _rows() -> list:
    rng = random.Random(7)
    rows = []
    for n in range(300):
        rows.append(row(n, started_at=NOW - rng.uniform(0, 3 * DAY),
                        provider=rng.choice(["deepseek", "backup"]), model=rng.choice(["a", "b", "c"]),
                        status=rng.choice([200, 200, 200, 429, 502]), cost_usd=rng.choice([None, 0.002, 1e-5]),
                        input_tokens=rng.randrange(5000), output_tokens=rng.randrange(900),
                        latency_ms=rng.uniform(10, 900), ttfb_ms=rng.choice([None, rng.uniform(1, 50)]),
                        fallback=rng.random() < 0.2, session_id=rng.choice([None, "s1", "s2"]),
                        task_id=rng.choice([None, "t1"])))
    return rows


async def test_both_stores_give_the_same_reports(upgraded_database, tmp_path):
    rows = _rows()
    lite = SQLiteStore(tmp_path / FILENAME)
    pg = await asyncio.to_thread(PostgresStore, upgraded_database)
    try:
        lite.append(rows)
        await asyncio.to_thread(pg.append, rows)
        for group, by in itertools.product([None, "hour", "day"], ["model", "provider", "session", "task"]):
            expected = lite.query(NOW - 4 * DAY, NOW + 1, group, by)
            got = await asyncio.to_thread(pg.query, NOW - 4 * DAY, NOW + 1, group, by)
            assert got == expected, (group, by)
        assert await asyncio.to_thread(pg.prune, NOW - DAY) == lite.prune(NOW - DAY) > 0
        assert (await asyncio.to_thread(pg.query, 0, NOW + 1, None, "model")).total.requests == \
            lite.query(0, NOW + 1, None, "model").total.requests
    finally:
        lite.close()
        await asyncio.to_thread(pg.close)
