"""The task store and queue on a shared PostgreSQL database (when the config has DATABASE_URL).

The same calls as the SQLite `TaskStore`, plus what several nodes need to share the work:

    await store.admit(n, settings)             rate limit and queue room, across every node
    record = await store.claim(worker, lease)  the oldest pending task, FOR UPDATE SKIP LOCKED
    await store.renew(worker, ids, lease)      heartbeat: keep the leases of running tasks
    await store.reap(...)                      tasks whose worker stopped renewing: retry or fail
    await store.request_cancel(id)             pending: cancelled now; running: its worker is told
    await store.add_events(rows)               live output, readable from any node

Waking up is by LISTEN/NOTIFY (`Notifications`): a new task, a cancel, new events, a finished
task. Every wait also has a timeout, so a notification lost to a dropped connection costs a
few seconds, never a stuck task.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from ccr.config.claude_code import ExecSettings
from ccr.database.connect import open_pool
from ccr.database.migrations import require_current
from ccr.errors import RateLimitError, RequestError

from .store import FINISHED, TaskRecord, now

__all__ = ["PgTaskStore", "Notifications", "CHANNELS"]

log = structlog.get_logger("ccr.execution")

#: NOTIFY channels; the payload is a task id ("" for the queue channel)
QUEUE, CANCEL, EVENTS, DONE = "ccr_queue", "ccr_cancel", "ccr_events", "ccr_done"
CHANNELS = (QUEUE, CANCEL, EVENTS, DONE)
_ADMIT_LOCK = 0x63637202   # serialises admission so the limits hold across nodes
_CLAIM_LOCK = 0x63637203   # serialises claims so max_concurrent holds across nodes

_COLUMNS = ("id", "kind", "status", "prompt", "options", "request_id", "created_at", "updated_at",
            "started_at", "completed_at", "result", "error", "attempts")


_INSERT = (f"INSERT INTO ccr_tasks ({', '.join(_COLUMNS)}) VALUES "
           f"({', '.join(f'${i + 1}' for i in range(len(_COLUMNS)))})")


async def _enqueue(conn: asyncpg.Connection, records: list[TaskRecord]) -> None:
    """Insert pending tasks and wake the workers (inside the caller's transaction)."""
    await conn.executemany(_INSERT, [[getattr(r, k) for k in _COLUMNS] for r in records])
    await conn.execute("SELECT pg_notify($1, '')", QUEUE)


def _record(row: asyncpg.Record) -> TaskRecord:
    return TaskRecord(**{k: row[k] for k in _COLUMNS})


Listener = Callable[[str], None]


class Notifications:
    """One LISTEN connection per process, fanned out to in-process waiters by channel and task id."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: asyncpg.Connection | None = None
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def open(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._watch(), name="ccr-db-listen")

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._url, timeout=10)
        for channel in CHANNELS:
            await conn.add_listener(channel, self._dispatch)
        self._conn = conn

    async def _watch(self) -> None:
        """Reconnect when the LISTEN connection drops (waiters fall back on their timeouts)."""
        while not self._closing:
            await asyncio.sleep(2)
            if self._conn is not None and not self._conn.is_closed():
                continue
            try:
                await self._connect()
                self._wake_all()  # something may have happened while we were deaf
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                log.warning("database LISTEN connection lost; retrying", error=type(exc).__name__)

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for listener in list(self._listeners.get(channel, ())):
            listener(payload)

    def _wake_all(self) -> None:
        for channel, listeners in self._listeners.items():
            for listener in list(listeners):
                listener("" if channel == QUEUE else "*")

    def subscribe(self, channel: str, listener: Listener) -> Callable[[], None]:
        self._listeners[channel].add(listener)
        return lambda: self._listeners[channel].discard(listener)

    async def wait(self, channels: tuple[str, ...], task_id: str, timeout: float) -> None:
        """Until a notification for `task_id` on one of `channels`, or `timeout`."""
        woken = asyncio.Event()

        def listener(payload: str) -> None:
            if payload in (task_id, "*", ""):
                woken.set()
        unsubscribes = [self.subscribe(channel, listener) for channel in channels]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout)
        finally:
            for unsubscribe in unsubscribes:
                unsubscribe()

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


class PgTaskStore:
    """Tasks in PostgreSQL: the store every node reads and the queue every worker takes from."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self.notifications = Notifications(url)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the task store is not open")
        return self._pool

    async def open(self) -> None:
        self._pool = await open_pool(self.url)
        try:
            await require_current(self._pool)
            await self.notifications.open()
        except BaseException:
            await self._pool.close()
            self._pool = None
            raise

    async def close(self) -> None:
        await self.notifications.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # -- the TaskStore calls ------------------------------------------------------------------

    async def insert(self, record: TaskRecord) -> None:
        await self.insert_many([record])

    async def insert_many(self, records: list[TaskRecord]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await _enqueue(conn, records)

    async def update(self, task_id: str, **changes: Any) -> None:
        changes.setdefault("updated_at", now())
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown task fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(changes))
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"UPDATE ccr_tasks SET {sets} WHERE id = $1", task_id, *changes.values())
            if changes.get("status") in FINISHED:
                await conn.execute("UPDATE ccr_tasks SET lease_until = NULL WHERE id = $1", task_id)
                await conn.execute("SELECT pg_notify($1, $2)", DONE, task_id)

    async def get(self, task_id: str) -> TaskRecord | None:
        row = await self.pool.fetchrow(f"SELECT {', '.join(_COLUMNS)} FROM ccr_tasks WHERE id = $1", task_id)
        return _record(row) if row else None

    async def page(self, status: str | None, limit: int, offset: int) -> tuple[list[TaskRecord], int]:
        where, args = ("WHERE status = $1", [status]) if status else ("", [])
        n = len(args)
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM ccr_tasks {where}", *args)
            rows = await conn.fetch(
                f"SELECT {', '.join(_COLUMNS)} FROM ccr_tasks {where} ORDER BY created_at DESC, id DESC "
                f"LIMIT ${n + 1} OFFSET ${n + 2}", *args, limit, offset)
        return [_record(r) for r in rows], int(total)

    async def cleanup(self, days: float) -> int:
        cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
        result = await self.pool.execute(
            "DELETE FROM ccr_tasks WHERE status = ANY($1::text[]) AND created_at < $2",
            list(FINISHED), cutoff.replace("+00:00", "Z"))
        return int(result.split()[-1])

    async def recover(self, requeue: bool) -> tuple[list[str], list[str]]:
        """Nothing to settle at start: other nodes' tasks are alive; lost ones are reaped by lease."""
        return [], []

    # -- the queue ------------------------------------------------------------------------------

    async def admit(self, n: int, settings: ExecSettings, insert: list[TaskRecord]) -> None:
        """Check the rate limit and queue room across all nodes, then insert `insert`, atomically."""
        limit = settings.rate_limit_per_minute
        if limit > 0 and n > limit:
            raise RequestError(f"{n} runs in one request exceed the rate limit of {limit} per minute "
                               "(ClaudeCode.rate_limit_per_minute); split the request")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _ADMIT_LOCK)
            if limit > 0:
                row = await conn.fetchrow(
                    "SELECT count(*) AS n, min(enqueued_at) AS first FROM ccr_tasks "
                    "WHERE enqueued_at > now() - interval '60 seconds'")
                if row["n"] + n > limit:
                    age = await conn.fetchval("SELECT extract(epoch FROM now() - $1::timestamptz)", row["first"])
                    raise RateLimitError(f"rate limit reached: {limit} Claude Code runs per minute "
                                         "(ClaudeCode.rate_limit_per_minute); retry later",
                                         retry_after=max(1, math.ceil(60 - float(age))))
            counts = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE status = 'running') AS running, "
                "count(*) FILTER (WHERE status = 'pending') AS pending FROM ccr_tasks "
                "WHERE status IN ('running', 'pending')")
            running, pending = int(counts["running"]), int(counts["pending"])
            # the slots the queue feeds: the shared bound when set, else one worker's
            capacity = settings.max_running_total or settings.max_concurrent
            free = max(0, capacity - running - pending)
            if pending + n - free > settings.max_queue:
                limit_name = ("max_running_total" if settings.max_running_total else "max_concurrent")
                raise RateLimitError(
                    f"too many Claude Code runs: {running} running (ClaudeCode.{limit_name}={capacity}) "
                    f"and {pending} queued (ClaudeCode.max_queue={settings.max_queue}); retry later",
                    retry_after=5)
            if insert:
                await _enqueue(conn, insert)

    async def claim(self, worker: str, lease_seconds: float, max_running: int) -> TaskRecord | None:
        """Take the oldest pending task (skipping those other workers are taking), or None.

        `max_running` bounds running tasks across every worker (ClaudeCode.max_concurrent is
        per worker; 0 means no shared bound).
        """
        stamp = now()
        async with self.pool.acquire() as conn, conn.transaction():
            if max_running > 0:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _CLAIM_LOCK)
                running = await conn.fetchval("SELECT count(*) FROM ccr_tasks WHERE status = 'running'")
                if running >= max_running:
                    return None
            row = await conn.fetchrow(
                f"""UPDATE ccr_tasks SET status = 'running', worker = $1, started_at = $2, updated_at = $2,
                        lease_until = now() + make_interval(secs => $3)
                    WHERE id = (SELECT id FROM ccr_tasks WHERE status = 'pending' AND NOT cancel_requested
                                ORDER BY enqueued_at, id FOR UPDATE SKIP LOCKED LIMIT 1)
                    RETURNING {', '.join(_COLUMNS)}""", worker, stamp, lease_seconds)
        return _record(row) if row else None

    async def renew(self, worker: str, task_ids: list[str], lease_seconds: float) -> set[str]:
        """Extend the leases of `task_ids`; returns those whose cancel was requested."""
        if not task_ids:
            return set()
        rows = await self.pool.fetch(
            "UPDATE ccr_tasks SET lease_until = now() + make_interval(secs => $3) "
            "WHERE id = ANY($2::text[]) AND worker = $1 AND status = 'running' "
            "RETURNING id, cancel_requested", worker, task_ids, lease_seconds)
        return {r["id"] for r in rows if r["cancel_requested"]}

    async def release(self, worker: str, task_ids: list[str]) -> None:
        """Hand tasks a stopping worker still holds back to the queue."""
        await self.pool.execute(
            "UPDATE ccr_tasks SET status = 'pending', worker = NULL, lease_until = NULL, started_at = NULL, "
            "updated_at = $3, enqueued_at = now() WHERE id = ANY($2::text[]) AND worker = $1 AND status = 'running'",
            worker, task_ids, now())
        await self.pool.execute("SELECT pg_notify($1, '')", QUEUE)

    async def reap(self, max_requeues: int) -> list[tuple[str, str]]:
        """Settle running tasks whose lease ran out: back to pending (once) or failed.

        Returns (task id, "requeued" | "failed") for each.
        """
        stamp = now()
        error = "the worker running this task stopped responding (its lease expired); it was not retried"
        result = {"status": "error", "output": "", "error": error, "return_code": None,
                  "execution_time": 0, "success": False}
        settled: list[tuple[str, str]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            requeued = await conn.fetch(
                "UPDATE ccr_tasks SET status = 'pending', worker = NULL, lease_until = NULL, started_at = NULL, "
                "requeues = requeues + 1, updated_at = $2, enqueued_at = now() "
                "WHERE status = 'running' AND lease_until < now() AND requeues < $1 AND NOT cancel_requested "
                "RETURNING id", max_requeues, stamp)
            failed = await conn.fetch(
                "UPDATE ccr_tasks SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'failed' END, "
                "error = $1, result = $2, completed_at = $3, updated_at = $3, lease_until = NULL "
                "WHERE status = 'running' AND lease_until < now() RETURNING id",
                error, result, stamp)
            for r in requeued:
                settled.append((r["id"], "requeued"))
            for r in failed:
                settled.append((r["id"], "failed"))
                await conn.execute("SELECT pg_notify($1, $2)", DONE, r["id"])
            if requeued:
                await conn.execute("SELECT pg_notify($1, '')", QUEUE)
        return settled

    async def request_cancel(self, task_id: str, result: dict[str, Any]) -> str | None:
        """Cancel a pending task at once, or flag a running one for its worker.

        Returns the status the task had ("pending" or "running"), None if it was finished or unknown.
        """
        stamp = now()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT status FROM ccr_tasks WHERE id = $1 FOR UPDATE", task_id)
            if row is None or row["status"] in FINISHED:
                return None
            if row["status"] == "pending":
                await conn.execute(
                    "UPDATE ccr_tasks SET status = 'cancelled', cancel_requested = true, result = $2, "
                    "error = $3, completed_at = $4, updated_at = $4 WHERE id = $1",
                    task_id, result, result.get("error"), stamp)
                await conn.execute("SELECT pg_notify($1, $2)", DONE, task_id)
            else:
                await conn.execute("UPDATE ccr_tasks SET cancel_requested = true WHERE id = $1", task_id)
                await conn.execute("SELECT pg_notify($1, $2)", CANCEL, task_id)
            return str(row["status"])

    # -- events -------------------------------------------------------------------------------

    async def add_events(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Append (task id, kind, data) rows and wake the readers of those tasks."""
        if not rows:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany("INSERT INTO ccr_task_events (task_id, kind, data) VALUES ($1, $2, $3)", rows)
            for task_id in {r[0] for r in rows}:
                await conn.execute("SELECT pg_notify($1, $2)", EVENTS, task_id)

    async def events_after(self, task_id: str, seq: int, limit: int = 500) -> list[tuple[int, str, dict[str, Any]]]:
        rows = await self.pool.fetch(
            "SELECT seq, kind, data FROM ccr_task_events WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            task_id, seq, limit)
        return [(int(r["seq"]), str(r["kind"]), r["data"]) for r in rows]

    async def secret(self, name: str, make: Callable[[], str]) -> str:
        """A value shared by every node (created by the first node that asks)."""
        async with self.pool.acquire() as conn:
            await conn.execute("INSERT INTO ccr_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                               name, make())
            return str(await conn.fetchval("SELECT value FROM ccr_secrets WHERE name = $1", name))


async def forever(step: Callable[[], Awaitable[None]], every: float, what: str) -> None:
    """Run `step` every `every` seconds until cancelled; a failing step is logged, not fatal."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be briefly unreachable; try again next round
            log.warning(f"{what} failed; retrying", error=type(exc).__name__)
        await asyncio.sleep(every)
