"""Tasks in flight: their live event feed, their cancel switch, and what ccr applies to the
model requests their CLI makes.

The runner tags each CLI's requests with `x-ccr-task: <task id>; temperature=...; route=...`
(ccr.proxy.records.task_header). Two hooks, which the execution API registers with the proxy,
apply the task's temperature and route, which the CLI has no flag for (`task_adjuster`, from
the header, so on any node), and count its tokens (`task_counter`, for tasks in this process).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ccr.proxy.records import Adjuster, Observer, PreparedRequest, RecordedExchange

__all__ = ["RunningTask", "TaskRegistry", "RUNNING", "task_adjuster", "task_counter"]

Event = tuple[str, dict[str, Any]]
_HISTORY = 2000  # events kept for a subscriber that arrives late


@dataclass(eq=False)
class RunningTask:
    id: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    pid: int | None = None
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None until a request with a known price was counted
    history: list[Event] = field(default_factory=list)
    closed: bool = False
    _subscribers: set[asyncio.Queue[Event | None]] = field(default_factory=set)
    #: what the task's CLI presents to ccr instead of ccr's APIKEY (good for /v1/messages only)
    token: str = field(default_factory=lambda: "ccrtask_" + secrets.token_urlsafe(24))
    #: with a shared database: where events also go (readable from other nodes), and how to
    #: wait until they are written (before the task is marked finished)
    sink: Callable[[str, dict[str, Any]], None] | None = None
    drain: Callable[[], Awaitable[None]] | None = None

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        event = (kind, data)
        if self.sink is not None:
            self.sink(kind, data)
        self.history.append(event)
        if len(self.history) > _HISTORY:
            del self.history[: len(self.history) - _HISTORY]
        for queue in self._subscribers:
            queue.put_nowait(event)

    def close(self) -> None:
        self.closed = True
        for queue in self._subscribers:
            queue.put_nowait(None)

    async def events(self) -> AsyncIterator[Event]:
        """Everything so far, then live events until the task ends."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        backlog = list(self.history)
        self._subscribers.add(queue)
        try:
            for event in backlog:
                yield event
            if self.closed:
                return
            while (live := await queue.get()) is not None:
                yield live
        finally:
            self._subscribers.discard(queue)

    def ccr_usage(self) -> dict[str, int | float | None]:
        return {"requests": self.requests, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cost_usd": self.cost_usd}


class TaskRegistry(dict[str, RunningTask]):
    """task id -> RunningTask, for tasks pending or running in this process."""

    def accepts(self, key: str) -> bool:
        """Is `key` the model token of a task in flight? (see ccr.auth.MODEL_CREDENTIALS)"""
        encoded = key.encode()
        return any(hmac.compare_digest(encoded, task.token.encode()) for task in list(self.values()))


RUNNING: web.AppKey[TaskRegistry] = web.AppKey("ccr_execution_running", TaskRegistry)


def task_adjuster() -> Adjuster:
    """The request adjuster: a task's temperature and route on its CLI's requests, as its
    TASK_HEADER carries them (so a router node applies them for a task any worker runs).

    A temperature replaces extended thinking, which Anthropic refuses to combine with one. An
    explicit "provider,model" route binds every request of the task (subagents included);
    aliases such as "sonnet" are left to the CLI, which already sends the model it resolved.
    """

    def adjust(prepared: PreparedRequest) -> None:
        task = prepared.task
        if task is None or prepared.front != "anthropic":
            return
        body = prepared.body
        if task.temperature is not None:
            body["temperature"] = task.temperature
            thinking = body.pop("thinking", None)
            if thinking is not None and prepared.route is not None and prepared.route.reason.startswith("think"):
                prepared.route = None  # routed for its thinking, which is gone: route again
        if task.route and body.get("model") != task.route:
            body["model"] = task.route
            prepared.route = None

    return adjust


def task_counter(registry: TaskRegistry) -> Observer:
    """The record observer: each task's requests, tokens and cost (the usage ledger's observer
    runs first and prices the record)."""

    def count(exchange: RecordedExchange) -> None:
        record = exchange.record
        task = registry.get(record.task_id) if record.task_id else None
        if task is not None:
            task.requests += 1
            task.input_tokens += record.input_tokens + record.cache_read_tokens
            task.output_tokens += record.output_tokens
            if record.cost_usd is not None:
                task.cost_usd = (task.cost_usd or 0.0) + record.cost_usd

    return count
