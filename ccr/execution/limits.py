"""Admission control: a per-minute rate limit, a concurrency limit and a bounded queue.

Every run (a sync request, an async task, each batch task or workflow step) is admitted once
(`RateLimiter.take`, `Gate.admit`), which may answer 429 with `retry-after`, and then waits
for one of `max_concurrent` slots. Limits are read from the settings on each call, so a
config reload applies at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator

from ccr.config.claude_code import ExecSettings
from ccr.errors import RateLimitError, RequestError

__all__ = ["RateLimiter", "Gate", "Cancelled"]

_QUEUE_RETRY_AFTER = 5


class Cancelled(Exception):
    """The run was cancelled before it got a slot."""


class RateLimiter:
    """At most `limit` runs in any 60-second window."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def take(self, n: int, limit: int) -> None:
        if limit <= 0:
            return
        if n > limit:
            raise RequestError(f"{n} runs in one request exceed the rate limit of {limit} per minute "
                               "(ClaudeCode.rate_limit_per_minute); split the request")
        clock = time.monotonic()
        while self._times and clock - self._times[0] >= 60:
            self._times.popleft()
        if len(self._times) + n > limit:
            wait = 60 - (clock - self._times[len(self._times) + n - limit - 1])
            raise RateLimitError(f"rate limit reached: {limit} Claude Code runs per minute "
                                 "(ClaudeCode.rate_limit_per_minute); retry later",
                                 retry_after=max(1, math.ceil(wait)))
        self._times.extend([clock] * n)


class Gate:
    """`max_concurrent` slots, and at most `max_queue` admitted runs waiting for one."""

    def __init__(self) -> None:
        self.running = 0
        self.waiting = 0  # admitted, not yet running
        self._changed = asyncio.Condition()

    def admit(self, n: int, settings: ExecSettings) -> None:
        free = max(0, settings.max_concurrent - self.running - self.waiting)
        if self.waiting + n - free > settings.max_queue:
            raise RateLimitError(
                f"too many Claude Code runs: {self.running} running (ClaudeCode.max_concurrent="
                f"{settings.max_concurrent}) and {self.waiting} queued (ClaudeCode.max_queue="
                f"{settings.max_queue}); retry later", retry_after=_QUEUE_RETRY_AFTER)
        self.waiting += n

    def reserve(self, n: int) -> None:
        """Count `n` runs as waiting without the queue check (tasks resumed at start)."""
        self.waiting += n

    def forget(self, n: int) -> None:
        """Give back admissions that will never run (a workflow stopped early)."""
        self.waiting = max(0, self.waiting - n)

    @contextlib.asynccontextmanager
    async def slot(self, settings: ExecSettings, cancel: asyncio.Event) -> AsyncIterator[None]:
        """Wait for a slot (an admitted run); raises Cancelled if `cancel` is set first."""
        acquired = False
        try:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: cancel.is_set() or self.running < settings.max_concurrent)
                if cancel.is_set():
                    raise Cancelled()
                self.running += 1
                acquired = True
        finally:
            self.waiting = max(0, self.waiting - 1)
        try:
            yield
        finally:
            if acquired:
                self.running -= 1
                await self.wake()

    async def wake(self) -> None:
        """Re-check waiters (after a release or a cancel)."""
        async with self._changed:
            self._changed.notify_all()
