"""Talking to providers: the shared client session, one call, and reading what comes back.

`open_upstream` is the one call every path makes (/v1/messages, /v1/chat/completions, the image
agent), with ccr's error mapping: an error status becomes `upstream_error` (the provider's
message, our status; 401/429 rest the key in the pool), a refused connection 502, a silence of
API_TIMEOUT_MS 504, a reply cut off 502.

Reading is streamed: `json_chunks` yields each SSE event's JSON as the bytes arrive and calls
`before_read` (a `BeforeRead`: the client writer's flush) whenever it is about to wait for the
network, which is when the writer sends everything the last read produced in one write.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

import aiohttp
import structlog

from ccr import jsonlib
from ccr.config import Config
from ccr.errors import CCRError, TransformError, UpstreamError, upstream_error
from ccr.formats.events import StreamSummary
from ccr.sse import SSEDecoder, event_boundary
from ccr.transformers import Chain, Context, Upstream

if TYPE_CHECKING:
    from .router import Route
    from .runtime import Runtime

__all__ = ["BeforeRead", "call_timeout", "prepare_upstream", "chain_failed", "chain_reply",
           "chain_stream", "open_upstream", "Body", "sniff", "json_chunks", "read_json_body", "reply_object",
           "whole_events"]

log = structlog.get_logger("ccr.upstream")

#: Called by the reader whenever it is about to wait for the network: the client writer's flush,
#: so that what one upstream read produced goes out in one write.
BeforeRead: TypeAlias = Callable[[], Awaitable[None]]


def call_timeout(config: Config) -> aiohttp.ClientTimeout:
    """Streams run long: bound the connect and each read, not the whole call."""
    seconds = config.api_timeout_ms / 1000
    return aiohttp.ClientTimeout(total=None, sock_connect=min(30.0, seconds), sock_read=seconds)


class Body:
    """The start of an upstream body, read once to tell SSE from JSON, then the rest."""

    def __init__(self, response: aiohttp.ClientResponse, first: bytes) -> None:
        self.response = response
        self.first = first

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.first:
            yield self.first
        while True:
            chunk = await self.response.content.readany()
            if not chunk:
                return
            yield chunk

    async def read_all(self) -> bytes:
        return self.first + await self.response.content.read()


async def sniff(response: aiohttp.ClientResponse) -> tuple[bool, Body]:
    """Is this body an event stream? Decided by the content type *and* the first bytes.

    Some providers send SSE as application/json or JSON as text/event-stream; the bytes win.
    """
    content_type = response.headers.get("Content-Type", "").lower()
    first = b""
    head = b""
    while True:  # read until the start is unambiguous (a read may end after "da")
        more = await response.content.readany()
        if not more:
            break
        first += more
        head = first.removeprefix(_BOM).lstrip()[:16]
        if head and (head.startswith(_SSE_MARKERS) or not any(m.startswith(head) for m in _SSE_MARKERS)):
            break
    if head.startswith((b"{", b"[")):
        return False, Body(response, first)
    if head.startswith(_SSE_MARKERS):
        return True, Body(response, first)
    return "event-stream" in content_type, Body(response, first)


_BOM = b"\xef\xbb\xbf"
_SSE_MARKERS = (b"data:", b"event:", b":", b"id:", b"retry:")


_SLICE = 4096
_BIG_BODY = 1024 * 1024  # bytes of a request body past which aiohttp wants a stream (ResourceWarning)


async def json_chunks(body: Body, summary: StreamSummary,
                      before_read: BeforeRead | None = None,
                      on_bad_data: Callable[[str], None] | None = None) -> AsyncIterator[dict[str, Any]]:
    """Each SSE event's data as JSON; stops at `data: [DONE]`."""
    decoder = SSEDecoder()
    source = body.chunks()
    chunk: bytes | None
    while True:
        if before_read is not None:
            await before_read()
        try:
            chunk = await source.__anext__()
        except StopAsyncIteration:
            events = decoder.close()
            chunk = None
        else:
            events = decoder.feed(chunk[:_SLICE])
        # A big read is decoded a slice at a time, so that its first events go out first.
        start = 0
        while True:
            for event in events:
                data = event.data
                if data == "[DONE]":
                    summary.done = True
                    return
                if not data:
                    continue
                try:
                    parsed = jsonlib.loads(data)
                except ValueError:
                    if on_bad_data is not None:
                        on_bad_data(data[:200])
                    continue
                if isinstance(parsed, dict):
                    if event.event == "error" and "error" not in parsed:
                        parsed = {"error": parsed}
                    yield parsed
            if chunk is None:
                return
            start += _SLICE
            if start >= len(chunk):
                break
            events = decoder.feed(chunk[start:start + _SLICE])


async def read_json_body(body: Body) -> Any:
    raw = await body.read_all()
    return jsonlib.loads(raw)


async def reply_object(body: Body, ctx: Context, *, anthropic: bool = False) -> dict[str, Any]:
    """A whole (non-streamed) reply, which must be a JSON object; with `anthropic`, an Anthropic
    error object sent with a 2xx status is the provider's error, not a message."""
    label = f"{ctx.provider.name},{ctx.model}"
    try:
        data = await read_json_body(body)
    except ValueError:
        raise UpstreamError(f"{label}: the provider's reply is not JSON", status=502) from None
    if not isinstance(data, dict):
        raise UpstreamError(f"{label}: the provider's reply is not a JSON object", status=502)
    if anthropic and (data.get("type") == "error" or (isinstance(data.get("error"), dict)
                                                       and "content" not in data)):
        raise upstream_error(ctx.provider.name, ctx.model, 502, jsonlib.dumps_str(data))
    return data


_MAX_ERROR_BODY = 64 * 1024


def chain_failed(ctx: Context, chain: Chain, where: str, exc: Exception) -> TransformError:
    """A step of the chain raised: log it, and name the chain (plugins included) to the client."""
    names = ", ".join(chain.names)
    if ctx.log is not None:
        ctx.log.error("transformer failed", where=where, chain=names, exc_info=exc)
    return TransformError(f"{ctx.provider.name},{ctx.model}: a transformer in the chain ({names}) "
                          f"failed on the {where}: {type(exc).__name__}: {exc}")


async def chain_reply(chain: Chain, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    """A whole reply through the chain's response steps; a failing step is named."""
    try:
        return await chain.response(body, ctx)
    except CCRError:
        raise
    except Exception as exc:
        raise chain_failed(ctx, chain, "reply", exc) from None


def chain_stream(chain: Chain, ctx: Context,
                 chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """A streamed reply through the chain's stream steps; a failing step is named, while network
    failures and ccr's own errors pass as they are. When no step touches the stream, it is
    handed on as it is (no guard step per event: nothing of the chain's can fail there)."""
    try:
        streamed = chain.stream(chunks, ctx)
    except CCRError:
        raise
    except Exception as exc:
        raise chain_failed(ctx, chain, "stream", exc) from None
    return chunks if streamed is chunks else _named_failures(chain, ctx, streamed)


async def _named_failures(chain: Chain, ctx: Context,
                          chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    try:
        async for chunk in chunks:
            yield chunk
    except (CCRError, aiohttp.ClientError, TimeoutError, ConnectionError):
        raise
    except Exception as exc:
        raise chain_failed(ctx, chain, "stream", exc) from None


async def prepare_upstream(chain: Chain, ctx: Context, body: dict[str, Any],
                           headers: dict[str, str] | None = None) -> Upstream:
    """The request as the provider gets it: ccr's headers (bearer key, content type, `headers`),
    then the chain's request steps, then the provider's configured headers, which win."""
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if ctx.api_key:
        base["Authorization"] = f"Bearer {ctx.api_key}"
    base.update(headers or {})
    up = Upstream(ctx.provider.api_base_url, body, base)
    try:
        up = await chain.request(up, ctx)
    except CCRError:
        raise
    except Exception as exc:
        raise chain_failed(ctx, chain, "request", exc) from None
    if ctx.provider.headers:
        up = up.with_headers(**{k.replace("-", "_"): v for k, v in ctx.provider.headers.items()})
    return up


def _host(url: str) -> str:
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or url[:40]


class open_upstream:  # noqa: N801 - used as a function: `async with open_upstream(...) as (is_stream, body)`
    """POST the request and hold the provider's reply open: (is_stream, Body) while the caller
    reads it. Errors, whether opening or while the caller reads, come out as UpstreamError.

    A class, not an @asynccontextmanager: a generator costs a wrapper object, the loop's
    async-generator bookkeeping and a throw on every exit, once per proxied request."""

    __slots__ = ("_call", "_http", "_key", "_on_headers", "_route", "_runtime", "_up")

    def __init__(self, http: aiohttp.ClientSession, runtime: Runtime, route: Route, key: str, up: Upstream,
                 on_headers: Callable[[], None]) -> None:
        self._http, self._runtime, self._route, self._key = http, runtime, route, key
        self._up, self._on_headers = up, on_headers
        self._call: Any = None  # aiohttp's request context, once sent

    async def __aenter__(self) -> tuple[bool, Body]:
        up, config = self._up, self._runtime.config
        raw = jsonlib.dumps(up.body)
        # aiohttp warns when asked to write big bytes in one go; a stream is written in parts
        data: bytes | io.BytesIO = io.BytesIO(raw) if len(raw) > _BIG_BODY else raw
        self._call = self._http.post(up.url, data=data, headers=dict(up.headers),
                                     timeout=self._runtime.timeout, proxy=config.proxy_url)
        try:
            resp = await self._call.__aenter__()
        except Exception as exc:
            self._call = None
            if (mapped := self._mapped(exc)) is exc:
                raise
            raise mapped from None
        try:
            self._on_headers()
            if resp.status >= 400:
                await self._refused(resp)
            return await sniff(resp)
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        call, self._call = self._call, None
        if call is None:
            return
        try:
            await call.__aexit__(exc_type, exc, tb)  # releases the connection
        except Exception as failed:
            if (mapped := self._mapped(failed)) is failed:
                raise
            raise mapped from None
        if isinstance(exc, Exception) and (mapped := self._mapped(exc)) is not exc:
            raise mapped from None

    async def _refused(self, resp: aiohttp.ClientResponse) -> None:
        route = self._route
        text = (await resp.content.read(_MAX_ERROR_BODY)).decode("utf-8", "replace")
        retry = resp.headers.get("retry-after")
        if resp.status in (401, 429):
            self._runtime.keys(route.provider).refused(self._key, float(retry) if retry and retry.isdigit() else None)
        raise upstream_error(route.provider.name, route.model, resp.status, text, retry)

    def _mapped(self, exc: BaseException) -> BaseException:
        """What the client is told of a failed call (others pass unchanged)."""
        label, url = self._route.name, self._up.url
        if isinstance(exc, aiohttp.ClientConnectorError):
            return UpstreamError(f"{label}: cannot connect to {_host(url)}: {exc.os_error.strerror or exc}",
                                 status=502)
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            return UpstreamError(f"{label}: no answer from {_host(url)} within "
                                 f"API_TIMEOUT_MS={self._runtime.config.api_timeout_ms}", status=504,
                                 error_type="timeout_error")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return UpstreamError(f"{label}: the provider's reply was cut off: {exc}", status=502)
        if isinstance(exc, aiohttp.ClientError):
            return UpstreamError(f"{label}: request to {_host(url)} failed: {type(exc).__name__}", status=502)
        return exc


async def whole_events(body: Body, label: str, usage: dict[str, int]) -> AsyncIterator[bytes]:
    """The provider's bytes, unchanged, in whole events only: if it fails mid-event, the client
    gets a clean `error` event, never half an event followed by one. Reads usage on the way."""
    decoder = SSEDecoder()
    pending = bytearray()
    finished = False
    async for chunk in body.chunks():
        pending += chunk
        end = event_boundary(pending)
        if end:
            yield bytes(pending[:end])
            del pending[:end]
        finished = _native_events(decoder.feed(chunk), usage) or finished
    if _native_events(decoder.close(), usage) and pending.strip():
        yield bytes(pending) + b"\n\n"  # a final message_stop without its blank line
        finished = True
    if not finished:
        raise UpstreamError(f"{label}: the provider's stream ended before message_stop", status=502)


def _native_events(events: list[Any], usage: dict[str, int]) -> bool:
    """Read usage from the events; True if one of them ends the stream."""
    finished = False
    for event in events:
        if event.event in ("message_start", "message_delta"):
            _native_usage(event.data, usage)
        elif event.event in ("message_stop", "error"):
            finished = True
    return finished


def _native_usage(data: str, usage: dict[str, int]) -> None:
    try:
        parsed = jsonlib.loads(data)
    except ValueError:
        return
    if not isinstance(parsed, dict):
        return
    message = parsed.get("message")
    found = parsed.get("usage") or (message.get("usage") if isinstance(message, dict) else None) or {}
    if isinstance(found, dict):
        usage.update({k: v for k, v in found.items() if isinstance(v, int)})
