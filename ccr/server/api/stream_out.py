"""The client's side of a streamed reply: started late, kept alive, written in batches.

    out = StreamOut(request, headers, keepalive=15.0)
    async with out:                      # runs the keep-alive pinger while the reply is made
        ...                              # out.add(kind, data); await out.flush() before each read
        await out.close()

The response is prepared with the first event, so a provider that fails before sending
anything still gets the client a real HTTP error status (which Claude Code retries on). What
one upstream read produced goes out in one write, except the reply's first content: `add` sets
`flush_now` for it, and the stream flushes at once rather than after the rest of its read. While
nothing has been written for `keepalive` seconds (a slow model thinking, a slow first token),
Anthropic `ping` events go out, starting the response if need be, so that idle timeouts of
proxies and clients do not cut the stream. Pings are only ever written between whole events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar

from aiohttp import web

from ccr.sse import encode_event

__all__ = ["StreamOut", "PING"]

PING = encode_event("ping", {"type": "ping"})


class StreamOut:
    #: written while the provider is silent (between whole events only)
    keepalive_frame: ClassVar[bytes] = PING

    def __init__(self, request: web.Request, headers: Mapping[str, str], keepalive: float) -> None:
        self.request = request
        self.response = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
            "Connection": "keep-alive", "X-Accel-Buffering": "no", **headers})
        self.buffer = bytearray()
        self.keepalive = keepalive
        self.last_write = time.monotonic()
        self.closed = False
        self.content_started = False
        self.flush_now = False  # the reply's first content is in the buffer: write it at once
        self._lock = asyncio.Lock()
        self._pinger: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self.response.prepared

    async def __aenter__(self) -> StreamOut:
        self._pinger = asyncio.create_task(self._ping())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop_pings()

    async def stop_pings(self) -> None:
        """Stop the pinger and wait for it: after this, `started` cannot change behind our back."""
        if self._pinger is not None:
            self._pinger.cancel()
            await asyncio.gather(self._pinger, return_exceptions=True)
            self._pinger = None

    async def start(self) -> None:
        if self.response.prepared:
            return
        async with self._lock:  # the pinger and the stream may both try
            if not self.response.prepared:
                await self.response.prepare(self.request)

    def add(self, kind: str, data: Any) -> None:
        self.buffer += encode_event(kind, data)
        if not self.content_started and kind == "content_block_delta":
            self.content_started = self.flush_now = True

    async def flush(self) -> None:
        """Write what was added (the stream calls this whenever it is about to wait)."""
        self.flush_now = False
        if self.buffer:
            data = bytes(self.buffer)
            self.buffer.clear()
            await self.write(data)

    async def write(self, data: bytes) -> None:
        """Write whole events (starting the response if need be)."""
        await self.start()
        self.last_write = time.monotonic()
        await self.response.write(data)

    async def close(self) -> None:
        """Flush, end the body; a client that already left is not an error here."""
        await self.stop_pings()
        self.closed = True
        try:
            await self.flush()
            await self.response.write_eof()
        except ConnectionError:
            pass

    async def _ping(self) -> None:
        try:
            while not self.closed:
                await asyncio.sleep(max(self.last_write + self.keepalive - time.monotonic(), 0.0))
                if not self.closed and time.monotonic() - self.last_write >= self.keepalive:
                    await self.write(self.keepalive_frame)
        except ConnectionError:
            return
