"""The ledger on real SQLite files: batches, queries, a restart in the middle, retention."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ccr.usage.ledger import Ledger
from ccr.usage.sqlite import FILENAME, SQLiteStore
from ccr.usage.store import UsageRow

DAY = 86400.0
NOW = time.time()


def row(n: int = 0, **changes) -> UsageRow:
    base = UsageRow(
        started_at=NOW - 60 + n, request_id=f"req_{n}", front="anthropic", stream=True,
        route_reason="default", provider="deepseek", model="deepseek-chat", status=200, error=None,
        input_tokens=100, output_tokens=10, cache_read_tokens=1000, cache_write_tokens=0,
        cost_usd=0.001, latency_ms=200.0 + n, ttfb_ms=50.0, attempts=None, fallback=False,
        session_id="s1", task_id=None, max_tokens_clamped=None)
    return replace(base, **changes)


def ledger_at(home: Path, retention: int = 90, linger: float = 0.0, quiet: float = 0.2) -> Ledger:
    ledger = Ledger(lambda: SQLiteStore(home / FILENAME), retention_days=lambda: retention, linger=linger,
                    quiet=quiet)
    ledger.start()
    return ledger


async def test_rows_are_summed_per_key_and_in_total(tmp_path):
    ledger = ledger_at(tmp_path)
    await ledger.started()
    for n in range(3):
        ledger.add(row(n))
    ledger.add(row(3, model="other-model", cost_usd=None, status=502, error="deepseek: 502",
                   input_tokens=0, output_tokens=0, cache_read_tokens=0, session_id=None))
    ledger.add(row(4, provider="backup", model="m2", fallback=True, cost_usd=None,
                   attempts='[{"provider": "deepseek"}]', task_id="task_1"))
    report = await ledger.query(NOW - DAY, NOW + 1, None, "model")
    await ledger.close()
    rows = {r.key: r for r in report.rows}
    assert set(rows) == {"deepseek,deepseek-chat", "deepseek,other-model", "backup,m2"}
    chat = rows["deepseek,deepseek-chat"].counters
    assert (chat.requests, chat.errors, chat.input_tokens, chat.cache_read_tokens) == (3, 0, 300, 3000)
    assert chat.cost_usd == pytest.approx(0.003)
    assert chat.latency_ms.p50 == 201.0 and chat.latency_ms_avg == 201.0
    other = rows["deepseek,other-model"].counters
    assert other.cost_usd is None and other.unpriced == 1  # unknown price: null, never 0
    assert other.errors == 1 and other.errors_by_status == {"502": 1}
    assert (rows["backup,m2"].provider, rows["backup,m2"].model) == ("backup", "m2")
    total = report.total
    assert (total.requests, total.errors, total.fallbacks, total.unpriced) == (5, 1, 1, 2)
    assert total.cost_usd == pytest.approx(0.003)  # the known part; `unpriced` says what is missing
    assert total.errors_by_status == {"502": 1}


async def test_every_column_is_kept_as_given_unset_ones_as_null(tmp_path):
    """What the file holds, read back with plain SQL: the values as given, NULL where unset."""
    ledger = ledger_at(tmp_path)
    await ledger.started()
    unset = row(0)
    full = row(1, error="deepseek: 502", cost_usd=0.0, ttfb_ms=0.0, attempts="[]", fallback=True,
               session_id="s9", task_id="task_9", max_tokens_clamped=128000, stream=False)
    ledger.add(replace(unset, cost_usd=None, ttfb_ms=None, session_id=None))
    ledger.add(full)
    await ledger.close()
    db = sqlite3.connect(tmp_path / FILENAME)
    db.row_factory = sqlite3.Row
    got = {r["request_id"]: dict(r) for r in db.execute("SELECT * FROM requests")}
    db.close()
    nullable = ("error", "cost_usd", "ttfb_ms", "attempts", "session_id", "task_id", "max_tokens_clamped")
    assert all(got["req_0"][c] is None for c in nullable), got["req_0"]
    assert {c: got["req_1"][c] for c in nullable} == {
        "error": "deepseek: 502", "cost_usd": 0.0, "ttfb_ms": 0.0, "attempts": "[]", "session_id": "s9",
        "task_id": "task_9", "max_tokens_clamped": 128000}
    assert (got["req_0"]["stream"], got["req_0"]["fallback"]) == (1, 0)
    assert (got["req_1"]["stream"], got["req_1"]["fallback"]) == (0, 1)
    assert got["req_1"]["latency_ms"] == full.latency_ms and got["req_1"]["started_at"] == full.started_at


def test_a_batch_of_any_size_is_written_whole_and_in_order(tmp_path):
    """A batch goes in as several many-row statements; none of its rows is lost or reordered."""
    store = SQLiteStore(tmp_path / FILENAME)
    for size in (1, 2, 203, 300):  # 203 = 128 + 64 + 8 + 2 + 1; 300 = 2 × 128 + 32 + 8 + 4
        store.append([row(n, request_id=f"b{size}_{n}", cost_usd=None if n % 3 else n / 1000,
                          session_id=None if n % 2 else f"s{n}") for n in range(size)])
    store.close()
    db = sqlite3.connect(tmp_path / FILENAME)
    got = db.execute("SELECT request_id, cost_usd, session_id FROM requests ORDER BY id").fetchall()
    db.close()
    want = [(f"b{size}_{n}", None if n % 3 else n / 1000, None if n % 2 else f"s{n}")
            for size in (1, 2, 203, 300) for n in range(size)]
    assert got == want


def test_a_library_that_binds_fewer_values_gets_smaller_statements(tmp_path):
    """SQLite before 3.32 binds at most 999 values a statement: 47 rows of 21, not 128."""
    store = SQLiteStore(tmp_path / FILENAME)
    store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # what such a library allows
    store.append([row(n, request_id=f"r{n}") for n in range(300)])
    store.close()
    db = sqlite3.connect(tmp_path / FILENAME)
    got = [r for (r,) in db.execute("SELECT request_id FROM requests ORDER BY id")]
    db.close()
    assert got == [f"r{n}" for n in range(300)]


async def test_by_session_task_provider_and_a_time_series(tmp_path):
    ledger = ledger_at(tmp_path)
    hour = (NOW // 3600) * 3600
    ledger.add(row(0, started_at=hour - 3600 + 5, session_id="a", task_id="t1"))
    ledger.add(row(1, started_at=hour + 5, session_id="a"))
    ledger.add(row(2, started_at=hour + 6, session_id=None, provider="other"))
    by_session = await ledger.query(hour - DAY, hour + 3600, "hour", "session")
    by_task = await ledger.query(hour - DAY, hour + 3600, None, "task")
    by_provider = await ledger.query(hour - DAY, hour + 3600, "day", "provider")
    await ledger.close()
    assert {r.key: r.counters.requests for r in by_session.rows} == {"a": 2, "(none)": 1}
    assert all(r.provider is None and r.model is None for r in by_session.rows)
    assert [(b.bucket, b.key, b.counters.requests) for b in by_session.series] == [
        (hour - 3600, "a", 1), (hour, "(none)", 1), (hour, "a", 1)]
    assert {r.key: r.counters.requests for r in by_task.rows} == {"t1": 1, "(none)": 2}
    assert {r.key for r in by_provider.rows} == {"deepseek", "other"}
    assert all(b.bucket % DAY == 0 for b in by_provider.series)


async def test_the_since_until_window_is_half_open(tmp_path):
    ledger = ledger_at(tmp_path)
    ledger.add(row(0, started_at=1000.0))
    ledger.add(row(1, started_at=2000.0))
    inside = await ledger.query(1000.0, 2000.0, None, "model")
    await ledger.close()
    assert inside.total.requests == 1


async def test_rows_survive_a_restart_in_the_middle(tmp_path):
    first = ledger_at(tmp_path, linger=1.0)  # a linger: rows: rows still pending at close
    first.add(row(0))
    first.add(row(1))
    await first.close()  # a clean shutdown writes what is pending
    second = ledger_at(tmp_path)
    second.add(row(2))
    report = await second.query(NOW - DAY, NOW + 1, None, "model")
    await second.close()
    assert report.total.requests == 3
    db = sqlite3.connect(tmp_path / FILENAME)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert [r for (r,) in db.execute("SELECT request_id FROM requests ORDER BY id")] == ["req_0", "req_1", "req_2"]
    assert (tmp_path / FILENAME).stat().st_mode & 0o077 == 0  # session ids are nobody else's business


async def test_retention_prunes_old_rows_when_the_ledger_starts(tmp_path):
    old = ledger_at(tmp_path, retention=36500)
    old.add(row(0, started_at=NOW - 100 * DAY))
    old.add(row(1, started_at=NOW - 10 * DAY))
    await old.close()
    ledger = ledger_at(tmp_path, retention=30)
    report = await ledger.query(0, NOW + 1, None, "model")
    await ledger.close()
    assert report.total.requests == 1


async def test_a_reader_sees_the_rows_while_the_service_writes(tmp_path):
    ledger = ledger_at(tmp_path)
    ledger.add(row(0))
    await ledger.query(0, NOW + 1, None, "model")  # written
    reader = SQLiteStore(tmp_path / FILENAME, readonly=True)  # what `ccr usage` opens
    try:
        assert reader.query(0, NOW + 1, None, "provider").total.requests == 1
        ledger.add(row(1))
        await ledger.query(0, NOW + 1, None, "model")
        assert reader.query(0, NOW + 1, None, "provider").total.requests == 2
        with pytest.raises(sqlite3.OperationalError):
            reader.append([row(2)])
    finally:
        reader.close()
        await ledger.close()


async def test_a_query_does_not_wait_for_a_batch_to_gather(tmp_path):
    """Rows wait for their batch; a query ends the wait at once, and sees them."""
    ledger = ledger_at(tmp_path, linger=120, quiet=120)
    await ledger.started()
    for n in range(3):
        ledger.add(row(n))
    report = await asyncio.wait_for(ledger.query(0, NOW + 1, None, "model"), 20)
    await asyncio.wait_for(ledger.close(), 20)
    assert report.total.requests == 3


async def test_the_last_rows_are_written_soon_after_traffic_stops(tmp_path):
    """`ccr usage` beside the service sees a session's last request without waiting a whole batch."""
    ledger = ledger_at(tmp_path, linger=120, quiet=0.2)
    await ledger.started()
    ledger.add(row(0))
    reader = SQLiteStore(tmp_path / FILENAME, readonly=True)
    try:
        for _ in range(200):  # up to 20 s; written 0.2 s after the row unless the wait is broken
            if reader.query(0, NOW + 1, None, "provider").total.requests == 1:
                break
            await asyncio.sleep(0.1)
        assert reader.query(0, NOW + 1, None, "provider").total.requests == 1
    finally:
        reader.close()
        await ledger.close()


async def test_a_store_that_cannot_open_fails_queries_and_drops_rows(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    ledger = Ledger(lambda: SQLiteStore(blocker / "sub" / FILENAME), retention_days=lambda: 90)
    ledger.start()
    with pytest.raises(OSError):
        await ledger.started()
    ledger.add(row(0))
    with pytest.raises(OSError):
        await ledger.query(0, NOW, None, "model")
    await ledger.close()


async def test_pending_rows_are_bounded(tmp_path):
    ledger = Ledger(lambda: SQLiteStore(tmp_path / FILENAME), retention_days=lambda: 90,
                    max_pending=10, linger=0.0)
    # never started: nothing drains the queue, as when the store hangs
    for n in range(25):
        ledger.add(row(n))
    assert ledger.dropped == 15
