"""A worker: takes tasks from the shared queue and runs the Claude Code CLI for them.

`ccr start` runs one in-process (unless `--no-worker`); `ccr worker` runs one alone on any host.
Each claimed task is held by a lease the worker renews every quarter of `lease_seconds`; a
worker that dies stops renewing, and any node's reaper then retries the task once or fails it.
A cancel reaches the worker by NOTIFY at once, and by the next renewal at the latest.

    worker = Worker(service, store, concurrency=2, name="host-1:4242")
    await worker.start() ... await worker.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import TYPE_CHECKING, Any

import structlog

from ccr.errors import CCRError

from .options import RunRequest, parse_run
from .pg_store import CANCEL, QUEUE, PgTaskStore, forever
from .running import RunningTask
from .store import TaskRecord

if TYPE_CHECKING:
    from .service import ExecutionService

__all__ = ["Worker", "worker_name", "EventWriter"]

log = structlog.get_logger("ccr.execution")
_IDLE_CHECK_S = 5.0        # a missed NOTIFY costs at most this long
_EVENT_FLUSH_S = 0.1
_MAX_REQUEUES = 1          # a task whose worker died is retried once, then fails


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class EventWriter:
    """Buffers a task's events and writes them in batches (one round trip per flush)."""

    def __init__(self, store: PgTaskStore, task_id: str) -> None:
        self._store, self._task_id = store, task_id
        self._rows: list[tuple[str, str, dict[str, Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def add(self, kind: str, data: dict[str, Any]) -> None:
        if kind in ("status", "result"):  # readers take these from the task row itself
            return
        self._rows.append((self._task_id, kind, data))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(_EVENT_FLUSH_S)
        await self.flush()

    async def flush(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            try:
                await self._store.add_events(rows)
            except Exception as exc:  # live output is best effort; the result is in the task row
                log.warning("could not write task events", task_id=self._task_id, error=type(exc).__name__)


class Worker:
    def __init__(self, service: ExecutionService, store: PgTaskStore, *, concurrency: int | None = None,
                 name: str | None = None) -> None:
        self.service, self.store = service, store
        self.name = name or worker_name()
        self._concurrency = concurrency
        self._running: dict[str, RunningTask] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._runs: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._unsubscribe: list[Any] = []

    @property
    def concurrency(self) -> int:
        return self._concurrency or self.service.settings_now().max_concurrent

    async def start(self) -> None:
        notes = self.store.notifications
        self._unsubscribe = [notes.subscribe(QUEUE, lambda _p: self._wake.set()),
                             notes.subscribe(CANCEL, self._on_cancel)]
        lease = self.service.settings_now().lease_seconds
        self._loops = [asyncio.create_task(self._claim_loop(), name="ccr-worker-claim"),
                       asyncio.create_task(forever(self._renew, lease / 4, "renewing task leases"),
                                           name="ccr-worker-renew")]
        log.info("worker started", worker=self.name, concurrency=self.concurrency)

    def _on_cancel(self, task_id: str) -> None:
        task = self._running.get(task_id)
        if task is not None:
            task.cancel.set()

    async def _renew(self) -> None:
        lease = self.service.settings_now().lease_seconds
        for task_id in await self.store.renew(self.name, list(self._running), lease):
            self._on_cancel(task_id)

    async def _claim_loop(self) -> None:
        while True:
            try:
                if len(self._running) < self.concurrency and await self._claim_one():
                    continue  # maybe more is waiting
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("claiming a task failed; retrying", error=type(exc).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _IDLE_CHECK_S)

    async def _claim_one(self) -> bool:
        settings = self.service.settings_now()
        record = await self.store.claim(self.name, settings.lease_seconds, settings.max_running_total)
        if record is None:
            return False
        try:
            run = parse_run({"prompt": record.prompt, "options": record.options}, settings)
        except CCRError as exc:  # the config changed under it (e.g. allowed roots)
            await self.service.finish_failed(record.id, f"cannot run here: {exc.message}")
            return True
        task = RunningTask(record.id)
        writer = EventWriter(self.store, record.id)
        task.sink, task.drain = writer.add, writer.flush
        self._running[record.id] = task
        run_task = asyncio.create_task(self._run(record, run, task), name=f"ccr-task-{record.id}")
        self._runs.add(run_task)
        run_task.add_done_callback(self._runs.discard)
        return True

    async def _run(self, record: TaskRecord, run: RunRequest, task: RunningTask) -> None:
        try:
            await self.service.run_claimed(task, run, stream_json=record.kind == "async" or None)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task failed in the worker", task_id=record.id)
        finally:
            self._running.pop(record.id, None)
            self._wake.set()  # a slot is free

    async def stop(self) -> None:
        """Kill running CLIs and hand their tasks back to the queue for another worker."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for loop in self._loops:
            loop.cancel()
        for task in list(self._running.values()):
            task.cancel.set()
        held = list(self._running)
        for run_task in list(self._runs):
            run_task.cancel()
        await asyncio.gather(*self._loops, *self._runs, return_exceptions=True)
        if held:
            with contextlib.suppress(Exception):
                await self.store.release(self.name, held)
        log.info("worker stopped", worker=self.name, handed_back=len(held))


async def reap_forever(store: PgTaskStore, lease_seconds: float) -> None:
    async def step() -> None:
        for task_id, outcome in await store.reap(_MAX_REQUEUES):
            log.warning("a task's worker stopped responding", task_id=task_id, outcome=outcome)
    await forever(step, max(1.0, min(15.0, lease_seconds / 3)), "reaping lost tasks")
