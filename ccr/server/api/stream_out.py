"""The client's side of a streamed reply: started late, kept alive, written in batches.

    out = StreamOut(request, headers, keepalive=15.0)     # Anthropic events; ChatStreamOut: OpenAI chunks
    async with out:                      # runs the keep-alive pinger while the reply is made
        async with pipeline.reply(ex) as answer:
            return await send(out, ex, answer)            # the one writer loop, for both framings

The response is prepared with the first event, so a provider that fails before sending
anything still gets the client a real HTTP error status (which Claude Code retries on). What
one upstream read produced goes out in one write, except the reply's first content: `add` sets
`flush_now` for it, and the stream flushes at once rather than after the rest of its read. While
nothing has been written for `keepalive` seconds (a slow model thinking, a slow first token),
Anthropic `ping` events go out, starting the response if need be, so that idle timeouts of
proxies and clients do not cut the stream. Pings are only ever written between whole events.
While the inspector is on (`ex.bodies`), `stream_reply` sets `copy`, and every write is also
appended there, up to records.REPLY_CAP bytes; otherwise `copy` is None and nothing is copied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar

import aiohttp
from aiohttp import web

from ccr import jsonlib
from ccr.errors import CCRError, error_body
from ccr.proxy.pipeline import Answer, Exchange, failure, reply
from ccr.proxy.records import Bodies
from ccr.sse import encode_event

from ..keys import STATE
from .openai_errors import openai_error

__all__ = ["StreamOut", "ChatStreamOut", "stream_reply", "send", "PING", "COMMENT_PING", "DONE"]

PING = encode_event("ping", {"type": "ping"})
COMMENT_PING = b": ping\n\n"
DONE = b"data: [DONE]\n\n"


class StreamOut:
    """Anthropic framing: `event: <type>` + `data: {...}` per event, `ping` events to keep alive."""

    #: written while the provider is silent (between whole events only)
    keepalive_frame: ClassVar[bytes] = PING
    #: written after the last item of a stream that ended well
    end_frame: ClassVar[bytes] = b""

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
        self.copy: Bodies | None = None  # what was written, for the inspector (only while it is on)
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

    def add(self, item: tuple[str, Any]) -> None:
        kind, data = item
        # bytes: SSE frames already finished (runs of text deltas, see formats.events.anthropic_frames)
        self.buffer += data if data.__class__ is bytes else encode_event(kind, data)
        if not self.content_started and kind == "content_block_delta":
            self.content_started = self.flush_now = True

    def error_frame(self, status: int, kind: str, message: str) -> bytes:
        return encode_event("error", error_body(kind, message))

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
        if self.copy is not None:
            self.copy.add_reply(data)
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


class ChatStreamOut(StreamOut):
    """OpenAI framing: `data: {chunk}` per chunk, then `data: [DONE]`. Keep-alives are SSE
    comments (`: ping`), which every SSE client skips; an Anthropic `ping` event would reach
    OpenAI clients as a chunk."""

    keepalive_frame: ClassVar[bytes] = COMMENT_PING
    end_frame: ClassVar[bytes] = DONE

    def add(self, item: Any) -> None:
        self.buffer += b"data: " + jsonlib.dumps(item) + b"\n\n"
        if not self.content_started and _carries_content(item):
            self.content_started = self.flush_now = True

    def error_frame(self, status: int, kind: str, message: str) -> bytes:
        return b"data: " + jsonlib.dumps(openai_error(status, message, kind)) + b"\n\n"


def _carries_content(chunk: Any) -> bool:
    return isinstance(chunk, dict) and any(
        isinstance(choice, dict) and isinstance(choice.get("delta"), dict)
        and any(choice["delta"].get(field) for field in _CONTENT_FIELDS)
        for choice in chunk.get("choices") or ())


_CONTENT_FIELDS = ("content", "tool_calls", "reasoning_content", "reasoning")


async def stream_reply(out: StreamOut, ex: Exchange) -> web.StreamResponse:
    """Call the pipeline with keep-alives running and write its reply to `out`."""
    out.copy = ex.bodies
    state = out.request.app[STATE]
    state.open_streams += 1
    try:
        async with out:  # keep-alive pings from now on, even while we wait for the provider
            try:
                async with reply(ex) as answer:
                    if not out.started:  # the route that answered
                        out.response.headers.update(ex.headers())
                    return await send(out, ex, answer)
            except CCRError as exc:
                await out.stop_pings()
                if not out.started:
                    raise  # nothing sent yet: a real HTTP error
                return await end_with_error(out, ex, None, exc)
    finally:
        state.open_streams -= 1


async def send(out: StreamOut, ex: Exchange, answer: Answer) -> web.StreamResponse:
    """Write the reply as it comes: what one upstream read produced goes out in one write,
    flushed before the next read, except the first content, which goes out at once. A failure
    after the response started ends it with the framing's error frame (no end frame)."""
    try:
        if answer.raw is not None:  # whole events, passed through as bytes
            async for block in answer.raw:
                await out.write(block)
        else:
            add = out.add
            async for item in answer.stream()(out.flush):
                add(item)
                if out.flush_now:  # the first content: not after the rest of its read
                    await out.flush()
    except ConnectionError:  # our client went away while we wrote
        ex.record.status, ex.record.error = 499, "client closed the connection"
        return out.response
    except Exception as exc:
        await out.stop_pings()  # settle first: a ping may be starting the response right now
        if not out.started:
            raise  # nothing sent yet: an HTTP error (mapped by the handler and the middleware)
        return await end_with_error(out, ex, answer, exc)
    answer.counted()
    out.buffer += out.end_frame
    await out.close()
    return out.response


async def end_with_error(out: StreamOut, ex: Exchange, answer: Answer | None,
                         exc: BaseException) -> web.StreamResponse:
    """After the headers went out: what was made so far, then an error frame."""
    if isinstance(exc, CCRError | aiohttp.ClientError | TimeoutError):  # the provider's side failed
        ex.log.warning("stream failed", error=str(exc))
    else:
        ex.log.exception("stream failed inside ccr", exc_info=exc)
    status, kind, message = failure(ex, exc)
    if answer is not None:
        answer.counted()
    out.buffer += out.error_frame(status, kind, message)
    await out.close()
    return out.response
