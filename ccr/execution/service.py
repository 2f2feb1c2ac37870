"""The execution service: runs prompts through the CLI with limits, retries and a task store.

    service = app[EXECUTION]
    record = await service.create(run, kind="sync", request_id=rid)   # admitted, stored pending
    result = await service.execute(record.id, run)                    # slot, attempts, result

`submit` does the same in the background (async tasks). On start, the store's leftovers are
settled (`TaskStore.recover`) and pending async tasks run; on shutdown running CLIs are
killed but stay `running` in the store, so the next start reports them as interrupted.

With a shared database (DATABASE_URL) the store is PostgreSQL and runs go through its queue:
`submit` and `execute` only enqueue (and `execute` waits for the result), and a `Worker` (in
this process unless `--no-worker`, or `ccr worker` on any host) claims and runs them with the
same code (`run_claimed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog

from ccr.config import Config
from ccr.config.claude_code import ExecSettings, load_settings
from ccr.database.url import database_url
from ccr.errors import CCRError
from ccr.execution.claude import find_claude
from ccr.jsonlib import Json

from .command import build_invocation
from .limits import Cancelled, Gate, RateLimiter
from .options import RunRequest, parse_run
from .outcome import build_result, retryable
from .output import write_output
from .pg_store import DONE, EVENTS, PgTaskStore
from .process import run_process
from .running import Event, RunningTask, TaskRegistry
from .store import FINISHED, TaskRecord, TaskStore, now
from .task_tokens import SignedTaskTokens
from .worker import Worker, reap_forever

__all__ = ["ExecutionService", "failure"]

log = structlog.get_logger("ccr.execution")


class ExecutionService:
    def __init__(self, config: Config, registry: TaskRegistry, *, run_tasks: bool | None = None) -> None:
        self._config = config
        self._settings = load_settings(config)
        self.registry = registry
        url = database_url(config)
        #: the PostgreSQL store and queue when the config names a shared database
        self.shared: PgTaskStore | None = PgTaskStore(url) if url else None
        self.store: TaskStore | PgTaskStore = self.shared or TaskStore(self._settings.store_path)
        self.tokens = SignedTaskTokens()  # shared database: task tokens every node accepts
        #: run tasks here (a single host, or a node with a worker); `--no-worker` only accepts them
        self.run_tasks = run_tasks if run_tasks is not None else os.environ.get("CCR_NO_WORKER", "") != "1"
        self.worker: Worker | None = None
        self.concurrency: int | None = None  # the worker's, when not ClaudeCode.max_concurrent
        self._reaper: asyncio.Task[None] | None = None
        self.gate = Gate()
        self.rate = RateLimiter()
        self.self_url = _url(config.host, config.port)
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False

    # -- settings ---------------------------------------------------------------------------

    def settings(self, config: Config) -> ExecSettings:
        """The settings of the current config snapshot (re-read after a reload)."""
        if config is not self._config:
            self._settings, self._config = load_settings(config), config
        return self._settings

    def settings_now(self) -> ExecSettings:
        return self._settings

    def saw_request_on(self, sockname: Any) -> None:
        """Remember an address this server really answers on: the CLI talks back to it."""
        if isinstance(sockname, tuple) and len(sockname) >= 2 and isinstance(sockname[0], str):
            host = sockname[0].removeprefix("::ffff:")  # IPv4 on a dual-stack socket
            self.self_url = _url(host, int(sockname[1]))

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self._settings
        settings.workspace.mkdir(parents=True, exist_ok=True)
        settings.config_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        if self.shared is not None:
            await self._start_shared(self.shared, settings)
            return
        interrupted, pending = await self.store.recover(settings.on_restart == "requeue")
        if interrupted or pending:
            log.info("task store recovered", interrupted=len(interrupted), resumed=len(pending))
        for task_id in pending:
            record = await self.store.get(task_id)
            if record is None:
                continue
            try:
                run = parse_run({"prompt": record.prompt, "options": record.options}, settings)
            except CCRError as exc:  # the config changed under it (e.g. allowed roots)
                await self._finish(record.id, "failed", failure(f"cannot resume: {exc.message}"))
                continue
            self.gate.reserve(1)  # admitted before the restart: no rate limit or queue check
            self._spawn(record.id, run)

    async def _start_shared(self, store: PgTaskStore, settings: ExecSettings) -> None:
        self.tokens.use_key(await store.secret("task_token_key", lambda: secrets.token_urlsafe(32)))
        self._reaper = asyncio.create_task(reap_forever(store, settings.lease_seconds), name="ccr-reaper")
        if self.run_tasks:
            self.worker = Worker(self, store, concurrency=self.concurrency)
            await self.worker.start()

    async def shutdown(self) -> None:
        """Kill every CLI now (on_shutdown, before aiohttp waits for handlers to finish).

        Their tasks stay `running` in the store: the next start reports them as interrupted
        by the restart (or re-queues them), the same as after a crash.
        """
        self._stopping = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None
        for running in list(self.registry.values()):
            running.cancel.set()
        await self.gate.wake()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def stop(self) -> None:
        await self.shutdown()
        await self.store.close()

    # -- runs -------------------------------------------------------------------------------

    async def admit(self, n: int, settings: ExecSettings) -> None:
        """Rate limit and queue room for `n` runs, or RateLimitError (429)."""
        if self._stopping:
            raise CCRError("ccr is shutting down; retry in a moment", status=503, error_type="api_error")
        if self.shared is not None:
            await self.shared.admit(n, settings, [])
            return
        self.gate.admit(n, settings)
        try:
            self.rate.take(n, settings.rate_limit_per_minute)
        except CCRError:
            self.gate.forget(n)
            raise

    async def enqueue(self, runs: list[RunRequest], settings: ExecSettings, *, kind: str,
                      request_id: str) -> list[TaskRecord]:
        """Admit and store `runs` (pending), all or none."""
        if self.shared is not None:
            if self._stopping:
                raise CCRError("ccr is shutting down; retry in a moment", status=503, error_type="api_error")
            shared = [self._new_record(run, kind, request_id) for run in runs]
            await self.shared.admit(len(runs), settings, shared)
            return shared
        await self.admit(len(runs), settings)
        records: list[TaskRecord] = []
        try:
            for run in runs:
                records.append(await self.create(run, kind=kind, request_id=request_id))
        finally:
            self.gate.forget(len(runs) - len(records))
        return records

    @staticmethod
    def _new_record(run: RunRequest, kind: str, request_id: str) -> TaskRecord:
        stamp = now()
        return TaskRecord(id=str(uuid.uuid4()), kind=kind, status="pending", prompt=run.prompt,
                          options=run.raw_options, request_id=request_id, created_at=stamp, updated_at=stamp)

    async def create(self, run: RunRequest, *, kind: str, request_id: str) -> TaskRecord:
        record = self._new_record(run, kind, request_id)
        if self.shared is not None:  # admitted already; a worker takes it from the queue
            await self.shared.insert(record)
            return record
        self._in_flight(record.id)
        try:
            await self.store.insert(record)
        except BaseException:
            self.registry.pop(record.id, None)
            raise
        return record

    def submit(self, record: TaskRecord, run: RunRequest) -> None:
        if self.shared is None:  # with a shared database the insert already queued it
            self._spawn(record.id, run)

    def _in_flight(self, task_id: str) -> RunningTask:
        """The task's entry in the registry (what /v1/messages applies to its requests)."""
        return self.registry.setdefault(task_id, RunningTask(task_id))

    def _spawn(self, task_id: str, run: RunRequest) -> None:
        self._in_flight(task_id)
        task = asyncio.create_task(self._run_background(task_id, run), name=f"ccr-task-{task_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run_background(self, task_id: str, run: RunRequest) -> None:
        try:
            await self.execute(task_id, run, stream_json=True)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the process alive; the task itself records the failure
            log.exception("async task failed", task_id=task_id)

    async def cancel(self, task_id: str) -> bool:
        """Ask a pending or running task to stop; False if it is not in flight here."""
        if self.shared is not None:  # whichever worker runs it hears of it by NOTIFY
            return await self.shared.request_cancel(task_id, failure("cancelled", status="cancelled")) is not None
        task = self.registry.get(task_id)
        if task is None:
            return False
        task.cancel.set()
        await self.gate.wake()
        return True

    async def execute(self, task_id: str, run: RunRequest, *, stream_json: bool | None = None) -> Json:
        """Wait for a slot, run with retries, store and return the result object."""
        if self.shared is not None:
            return await self._await_result(self.shared, task_id)
        task = self._in_flight(task_id)
        settings = self._settings
        stream = run.options.format == "stream-json" if stream_json is None else stream_json
        try:
            if self._stopping:  # stays pending in the store; the next start settles it
                self.gate.forget(1)
                return failure("ccr is shutting down", status="cancelled")
            try:
                async with self.gate.slot(settings, task.cancel):
                    result = await self._attempts(task, run, settings, stream)
            except Cancelled:
                result = failure("cancelled", status="cancelled")
            if self._stopping:  # leave the store saying `running`; see shutdown()
                return failure("ccr is shutting down; the task was interrupted", status="cancelled")
            await self._settle(task_id, result)
            return result
        except asyncio.CancelledError:
            if not self._stopping:  # the client went away: record it; at shutdown, leave it running
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._finish(task_id, "cancelled",
                                                      failure("the client disconnected", status="cancelled")))
            raise
        finally:
            task.close()
            self.registry.pop(task_id, None)

    async def _settle(self, task_id: str, result: Json) -> None:
        status = ("completed" if result["success"] else
                  "cancelled" if result["status"] == "cancelled" else "failed")
        await self._finish(task_id, status, result, attempts=result.get("attempts", 0))

    async def finish_failed(self, task_id: str, error: str) -> None:
        await self._finish(task_id, "failed", failure(error))

    async def run_claimed(self, task: RunningTask, run: RunRequest, *, stream_json: bool | None) -> None:
        """Run a task a worker took from the shared queue (its slot is the worker's)."""
        self.registry[task.id] = task  # so this node applies the task's model and temperature
        task.token = self.tokens.issue(task.id)
        stream = run.options.format == "stream-json" if stream_json is None else stream_json
        try:
            try:
                result = await self._attempts(task, run, self._settings, stream)
            except Cancelled:
                result = failure("cancelled", status="cancelled")
            if not self._stopping:  # at shutdown the worker hands the task back to the queue
                await self._settle(task.id, result)
        finally:
            task.close()
            self.registry.pop(task.id, None)

    async def _await_result(self, store: PgTaskStore, task_id: str) -> Json:
        """Wait until a worker (any host) finishes the task; a client that leaves cancels it."""
        try:
            while True:
                record = await store.get(task_id)
                if record is None:
                    return failure("the task was deleted before it finished")
                if record.status in FINISHED and record.result is not None:
                    return record.result
                await store.notifications.wait((DONE,), task_id, 5.0)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(store.request_cancel(
                    task_id, failure("the client disconnected", status="cancelled")))
            raise

    async def events(self, task_id: str) -> AsyncIterator[Event]:
        """The task's live events: in this process, or from the shared database (any node's task).

        With a shared database, `status` and `result` come from the task row, not from here.
        """
        running = self.registry.get(task_id)
        if self.shared is None or (running is not None and self.worker is not None):
            if running is not None:
                async for event in running.events():
                    yield event
            return
        store, seq = self.shared, 0
        record = await store.get(task_id)
        if record is None or record.status in FINISHED:
            return  # like a finished task here: its status and result are in the row
        while True:
            rows = await store.events_after(task_id, seq)
            for seq, kind, data in rows:  # noqa: B007 (seq is the cursor: the last event seen)
                yield kind, data
            if rows:
                continue
            record = await store.get(task_id)
            if record is None or record.status in FINISHED:
                for _seq, kind, data in await store.events_after(task_id, seq):
                    yield kind, data
                return
            await store.notifications.wait((EVENTS, DONE), task_id, 2.0)

    async def _finish(self, task_id: str, status: str, result: Json, attempts: int = 0) -> None:
        task = self.registry.get(task_id)
        if task is not None and task.drain is not None:
            await task.drain()  # live output first, then the row that says it is finished
        stamp = now()
        await self.store.update(task_id, status=status, result=result, error=result.get("error") or None,
                                completed_at=stamp, updated_at=stamp, attempts=attempts)
        if task is not None:
            task.publish("status", {"task_id": task_id, "status": status})
            task.publish("result", {"task_id": task_id, "status": status, "result": result})
        log.info("task finished", task_id=task_id, status=status, attempts=attempts)

    async def _attempts(self, task: RunningTask, run: RunRequest, settings: ExecSettings,
                        stream_json: bool) -> Json:
        claude = find_claude(self._config)  # CLAUDE_PATH (config, environment), then PATH
        if claude is None:
            return failure("the Claude Code CLI was not found: set CLAUDE_PATH in the config or the "
                            "environment, or put `claude` on PATH")
        context = None
        if run.options.context_file is not None:
            try:
                context = await asyncio.to_thread(run.options.context_file.read_bytes)
            except OSError as exc:
                return failure(f"cannot read context_file: {exc.strerror}")
        await self.store.update(task.id, status="running", started_at=now())
        task.publish("status", {"task_id": task.id, "status": "running"})
        base_url = settings.base_url or self.self_url
        # Through this ccr the CLI gets the task's own random token (good for /v1/messages only),
        # never ccr's APIKEY nor the admin token: the agent can read its environment.
        token = (settings.api_key or "none") if settings.base_url else task.token
        inv = build_invocation(claude, run.prompt, run.options, settings, base_url=base_url, token=token,
                               task_id=task.id, stream_json=stream_json, context=context)
        attempt, result, started = 0, failure("not run"), time.monotonic()
        while True:
            attempt += 1
            result = await self._attempt(task, inv, run, settings, attempt)
            if (result["success"] or attempt > run.options.max_retries or task.cancel.is_set()
                    or not result.pop("_retryable")):
                break
            delay = min(settings.retry_backoff_max, settings.retry_backoff * 2 ** (attempt - 1))
            task.publish("retry", {"task_id": task.id, "attempt": attempt, "delay": delay,
                                   "error": result["error"]})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task.cancel.wait(), delay)
        result.pop("_retryable", None)
        result["execution_time"] = round(time.monotonic() - started, 3)  # all attempts and waits
        if settings.through_ccr:
            result["ccr_usage"] = task.ccr_usage()
        if result["success"] and run.options.output_file is not None:
            result.update(await _write_output(run.options.output_file, result["output"], settings))
        return result

    async def _attempt(self, task: RunningTask, inv: Any, run: RunRequest, settings: ExecSettings,
                       attempt: int) -> Json:
        started = time.monotonic()

        def on_start(pid: int) -> None:
            task.pid = pid
            task.publish("start", {"task_id": task.id, "attempt": attempt, "pid": pid})

        def on_line(line: str) -> None:
            task.publish("output", {"task_id": task.id, "line": line})

        try:
            proc = await run_process(inv, timeout=run.options.timeout, grace=settings.kill_grace,
                                     cancel=task.cancel, on_start=on_start, on_line=on_line)
        except (OSError, ValueError) as exc:  # the process never started: no retry can help
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            result = failure(f"the Claude Code CLI could not be started: {reason}")
            result["_retryable"] = False
            return result
        result = build_result(proc, command=inv.display(), elapsed=time.monotonic() - started,
                              fmt=run.options.format, timeout=run.options.timeout, attempts=attempt)
        result["pid"] = proc.pid
        result["_retryable"] = retryable(proc, result)
        return result


def _url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "", "localhost"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def failure(error: str, *, status: str = "error") -> Json:
    return {"status": status, "output": "", "error": error, "return_code": None,
            "execution_time": 0.0, "command": "", "success": False, "attempts": 0}


async def _write_output(path: Path, text: str, settings: ExecSettings) -> Json:
    """Written without following a link the agent may have put in its way (ccr.execution.output)."""
    refused = await asyncio.to_thread(write_output, path, text, settings.allowed_roots)
    if refused is not None:
        log.warning("output_file not written", reason=refused)
        return {"success": False, "status": "error",
                "error": f"the run succeeded but output_file was not written: {refused}"}
    return {"output_file": str(path)}
