"""The ledger: finished requests go to a store in batches, from a writer thread of its own.

    ledger = Ledger(lambda: SQLiteStore(home / FILENAME), retention_days=90)
    ledger.start()
    ledger.add(row)                         # on the loop: a queue put, nothing else
    report = await ledger.query(since, until, None, "model")   # sees every row added before
    await ledger.close()                    # writes what is pending, closes the store

One thread owns the store and does everything with it in order: rows are written in one
transaction per batch (what arrived while the last batch was written, or after its first row
until no row came for `quiet` seconds, at most `linger`), queries run after the rows added
before them, and old rows are pruned once an hour. A query, a prune or `close` ends the wait
at once. Rows pending are bounded: past `max_pending` new rows are dropped and counted (the
store is stuck; memory must not grow with it).

Why batches of up to a second under load: while the writer wants the GIL, the event loop and
it hand the GIL back and forth, a few system calls each time, and how often hardly depends on
the batch's size; fewer, larger batches cost the requests less (measured: about one futex
call per request on each thread with 0.2 s batches, a third of that with 1 s). When traffic
stops, its last rows are written `quiet` seconds later, so `ccr usage` run just after a
session sees all of it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import structlog

from .store import By, Group, Report, Store, UsageRow

_T = TypeVar("_T")

__all__ = ["Ledger"]

log = structlog.get_logger("ccr.usage")

_PRUNE_EVERY = 3600.0
_STOP = object()


class Ledger:
    def __init__(self, open_store: Callable[[], Store], *, retention_days: Callable[[], int],
                 linger: float = 1.0, quiet: float = 0.2, max_pending: int = 50_000) -> None:
        self._open_store = open_store
        self._retention_days = retention_days
        self._linger, self._quiet, self._max_pending = linger, quiet, max_pending
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready: Future[None] = Future()
        self._wanted = threading.Event()  # a call is waiting: stop lingering
        self.dropped = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ccr-usage-ledger", daemon=True)
        self._thread.start()

    async def started(self) -> None:
        """Wait until the store is open (raises what opening it raised)."""
        await asyncio.wrap_future(self._ready)

    def add(self, row: UsageRow) -> None:
        if self._queue.qsize() >= self._max_pending:
            self.dropped += 1
            if self.dropped in (1, 1000) or self.dropped % 100_000 == 0:
                log.warning("usage ledger is behind: rows dropped", dropped=self.dropped)
            return
        self._queue.put(row)

    async def query(self, since: float, until: float, group: Group | None, by: By) -> Report:
        return await self._call(lambda store: store.query(since, until, group, by))

    async def prune(self, before: float) -> int:
        return await self._call(lambda store: store.prune(before))

    async def _call(self, work: Callable[[Store], _T]) -> _T:
        done: Future[_T] = Future()
        self._queue.put((work, done))
        self._wanted.set()
        return await asyncio.wrap_future(done)

    async def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._wanted.set()
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    # ---- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = self._open_store()
        except Exception as exc:  # e.g. a read-only home: the service runs, without a ledger
            log.error("usage ledger cannot open its store", error=f"{type(exc).__name__}: {exc}")
            self._ready.set_exception(exc)
            self._fail_calls(exc)
            return
        self._ready.set_result(None)
        next_prune = 0.0
        try:
            while True:
                if time.monotonic() >= next_prune:
                    self._prune(store)
                    next_prune = time.monotonic() + _PRUNE_EVERY
                item = self._queue.get()
                if isinstance(item, UsageRow) and self._linger:
                    self._gather()
                self._wanted.clear()
                if not self._handle(store, [item, *self._drain()]):
                    return
        finally:
            store.close()

    def _gather(self) -> None:
        """Let a batch gather: until no row came for `quiet` seconds, `linger` has passed, or a
        call is waiting."""
        end = time.monotonic() + self._linger
        seen = self._queue.qsize()
        while (left := end - time.monotonic()) > 0:
            if self._wanted.wait(min(self._quiet, left)):
                return
            pending = self._queue.qsize()
            if pending == seen:
                return
            seen = pending

    def _drain(self) -> list[Any]:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _handle(self, store: Store, items: list[Any]) -> bool:
        """Write the rows, then answer the calls in order; False once asked to stop."""
        rows: list[UsageRow] = []
        for item in items:
            if isinstance(item, UsageRow):
                rows.append(item)
                continue
            self._write(store, rows)
            rows = []
            if item is _STOP:
                self._write(store, [r for r in self._drain() if isinstance(r, UsageRow)])
                return False
            work, done = item
            try:
                done.set_result(work(store))
            except Exception as exc:
                done.set_exception(exc)
        self._write(store, rows)
        return True

    def _write(self, store: Store, rows: list[UsageRow]) -> None:
        if not rows:
            return
        try:
            store.append(rows)
        except Exception as exc:  # a full disk must not take the proxy down
            log.error("usage ledger could not write rows", rows=len(rows),
                      error=f"{type(exc).__name__}: {exc}")

    def _prune(self, store: Store) -> None:
        before = time.time() - self._retention_days() * 86400
        try:
            gone = store.prune(before)
        except Exception as exc:
            log.error("usage ledger could not prune", error=f"{type(exc).__name__}: {exc}")
            return
        if gone:
            log.info("usage ledger pruned old rows", rows=gone, retention_days=self._retention_days())

    def _fail_calls(self, exc: Exception) -> None:
        while True:  # calls keep failing at once, rows are dropped
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, tuple):
                item[1].set_exception(exc)
