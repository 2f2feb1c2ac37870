"""The task store: one SQLite file in $CCR_HOME, so tasks outlive a restart.

Every call runs on one worker thread that owns the connection, so the event loop never
blocks on disk and SQLite never sees two threads. Rows are `TaskRecord`s; results are JSON.

    store = TaskStore(home / "tasks.sqlite3")
    await store.insert(record); await store.update(id, status="running", started_at=now())
    rows, total = await store.page("pending", limit=10, offset=0)
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["TaskRecord", "TaskStore", "now", "STATUSES", "FINISHED"]

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status, created_at);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created_at);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class TaskRecord:
    id: str
    kind: str                     # sync, async, batch, workflow
    status: str                   # one of STATUSES
    prompt: str
    options: dict[str, Any]       # as the client sent them
    request_id: str               # the request that started the task
    created_at: str
    updated_at: str
    started_at: str | None = None
    completed_at: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0

    def view(self) -> dict[str, Any]:
        """The seed's task object (GET /api/claude-code/task/{id})."""
        return {"task_id": self.id, "status": self.status, "kind": self.kind,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "started_at": self.started_at, "completed_at": self.completed_at,
                "result": self.result, "error": self.error, "attempts": self.attempts,
                "request_id": self.request_id}

    def summary(self) -> dict[str, Any]:
        """One row of GET /api/tasks."""
        return {"id": self.id, "status": self.status, "kind": self.kind,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "request_id": self.request_id}


_COLUMNS = tuple(f.name for f in fields(TaskRecord))
_JSON = ("options", "result")


def _row(row: sqlite3.Row) -> TaskRecord:
    values = {k: row[k] for k in _COLUMNS}
    for key in _JSON:
        if values[key] is not None:
            values[key] = json.loads(values[key])
    return TaskRecord(**values)


class TaskStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccr-tasks")
        self._db: sqlite3.Connection | None = None

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def open(self) -> None:
        await self._call(self._conn)

    async def close(self) -> None:
        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await self._call(close)
        self._pool.shutdown(wait=True)

    async def insert(self, record: TaskRecord) -> None:
        values = asdict(record)
        for key in _JSON:
            values[key] = json.dumps(values[key]) if values[key] is not None else None

        def insert() -> None:
            self._conn().execute(
                f"INSERT INTO tasks ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                [values[k] for k in _COLUMNS])
        await self._call(insert)

    async def update(self, task_id: str, **changes: Any) -> None:
        changes.setdefault("updated_at", now())
        for key in _JSON:
            if key in changes and changes[key] is not None:
                changes[key] = json.dumps(changes[key])
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown task fields: {sorted(unknown)}")

        def update() -> None:
            self._conn().execute(f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
                                 [*changes.values(), task_id])
        await self._call(update)

    async def get(self, task_id: str) -> TaskRecord | None:
        def get() -> TaskRecord | None:
            row = self._conn().execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
            return _row(row) if row else None
        return await self._call(get)  # type: ignore[no-any-return]

    async def page(self, status: str | None, limit: int, offset: int) -> tuple[list[TaskRecord], int]:
        def query() -> tuple[list[TaskRecord], int]:
            where, args = ("WHERE status = ?", [status]) if status else ("", [])
            db = self._conn()
            total = db.execute(f"SELECT COUNT(*) FROM tasks {where}", args).fetchone()[0]
            rows = db.execute(f"SELECT * FROM tasks {where} ORDER BY created_at DESC, rowid DESC "
                              "LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
            return [_row(r) for r in rows], int(total)
        return await self._call(query)  # type: ignore[no-any-return]

    async def cleanup(self, days: float) -> int:
        """Delete finished tasks created more than `days` days ago; returns how many."""
        cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
        cutoff = cutoff.replace("+00:00", "Z")

        def delete() -> int:
            cursor = self._conn().execute(
                f"DELETE FROM tasks WHERE status IN ({', '.join('?' * len(FINISHED))}) AND created_at < ?",
                [*FINISHED, cutoff])
            return cursor.rowcount
        return await self._call(delete)  # type: ignore[no-any-return]

    async def recover(self, requeue: bool) -> tuple[list[str], list[str]]:
        """At start: settle what a previous process left behind.

        Running tasks were interrupted: they fail with "interrupted by restart", or go back to
        pending when `requeue` (async tasks only; nobody waits for a sync, batch or workflow
        run any more). Returns (interrupted ids, pending async ids to run, oldest first).
        """
        def recover() -> tuple[list[str], list[str]]:
            db = self._conn()
            stamp = now()
            running = [r["id"] for r in db.execute("SELECT id, kind FROM tasks WHERE status = 'running'")]
            if requeue:
                db.execute("UPDATE tasks SET status = 'pending', updated_at = ?, started_at = NULL "
                           "WHERE status = 'running' AND kind = 'async'", (stamp,))
            error = "interrupted by restart"
            db.execute("UPDATE tasks SET status = 'failed', error = ?, updated_at = ?, completed_at = ?, "
                       "result = ? WHERE status = 'running' OR (status = 'pending' AND kind != 'async')",
                       (error, stamp, stamp, json.dumps(_interrupted(error))))
            pending = [r["id"] for r in db.execute(
                "SELECT id FROM tasks WHERE status = 'pending' AND kind = 'async' ORDER BY created_at, rowid")]
            return running, pending
        return await self._call(recover)  # type: ignore[no-any-return]


def _interrupted(error: str) -> dict[str, Any]:
    return {"status": "error", "output": "", "error": error, "return_code": None,
            "execution_time": 0, "success": False}
