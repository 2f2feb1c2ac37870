"""POST /v1/messages and /v1/messages/count_tokens: route, transform, call, stream back.

    body -> Router -> (provider, model, chain)
         -> unified request -> chain.request -> provider
         -> provider reply  -> chain.response / chain.stream -> Anthropic message / events

Providers whose dialect is `anthropic` skip the translation both ways. Errors before the reply
starts are HTTP errors in the Anthropic shape (see middlewares.py); errors after a stream has
started end it with an Anthropic `error` event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from ccr import jsonlib
from ccr.errors import CCRError, RequestError, UpstreamError, redact
from ccr.execution.running import apply_task, count_task
from ccr.formats.assemble import accumulate, message_events
from ccr.formats.events import StreamSummary, anthropic_events
from ccr.formats.reply import to_message
from ccr.formats.request import to_unified
from ccr.formats.validate import validate_request
from ccr.jsonlib import Json
from ccr.proxy import image_agent
from ccr.proxy.records import TASK_HEADER, RequestRecord
from ccr.proxy.router import Route, session_id_of
from ccr.proxy.runtime import Runtime
from ccr.proxy.stats import Stats
from ccr.proxy.upstream import (
    Body,
    chain_reply,
    chain_stream,
    json_chunks,
    open_upstream,
    prepare_upstream,
    reply_object,
)
from ccr.server.api.stream_out import StreamOut
from ccr.server.keys import HTTP, RUNTIME
from ccr.server.middlewares import REQUEST_ID
from ccr.sse import SSEDecoder, encode_event, event_boundary
from ccr.transformers import Chain, Context, Upstream
from ccr.transformers.anthropic import FORWARDED_HEADERS

__all__ = ["routes", "STATS"]

routes = web.RouteTableDef()
log = structlog.get_logger("ccr.messages")
STATS: web.AppKey[Stats] = web.AppKey("stats", Stats)

Event = tuple[str, Json]


async def read_body(request: web.Request) -> Json:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise CCRError("request body is too large", status=413, error_type="request_too_large") from None
    if not raw.strip():
        raise RequestError("the request body is empty; send an Anthropic Messages JSON object")
    try:
        body = jsonlib.loads(raw)
    except ValueError as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body


@dataclass(slots=True)
class Exchange:
    """One proxied request: what was asked, where it goes, and what is recorded about it."""

    request: web.Request
    runtime: Runtime
    body: Json
    route: Route
    chain: Chain
    ctx: Context
    record: RequestRecord
    started: float
    out: StreamOut | None = None  # the client's event stream, for stream requests

    @property
    def label(self) -> str:
        return self.route.name

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 2)


@routes.post("/v1/messages")
async def messages(request: web.Request) -> web.StreamResponse:
    started = time.monotonic()
    runtime = request.app[RUNTIME]  # this snapshot serves the whole request, reload or not
    record = RequestRecord(request_id=request[REQUEST_ID], task_id=request.headers.get(TASK_HEADER))
    secrets: tuple[str, ...] = ()
    try:
        body = await read_body(request)
        body = apply_task(request.app, record.task_id, body)  # execution API: task temperature/model
        validate_request(body)
        record.stream = bool(body.get("stream"))
        session_id = session_id_of(body, request.headers.get("X-Claude-Code-Session-Id"))
        route = await runtime.router.route(body, session_id)
        record.provider, record.model, record.route_reason = route.provider.name, route.model, route.reason
        secrets = route.provider.api_keys
        chain = runtime.chain(route.provider, route.model)
        key = runtime.keys(route.provider).next()
        ctx = Context(provider=route.provider, model=route.model, request=body, api_key=key,
                      stream=record.stream, log=log.bind(route=route.name), state={},
                      http=request.app[HTTP], proxy=runtime.config.proxy_url)
        exchange = Exchange(request, runtime, body, route, chain, ctx, record, started)
        agent = image_agent.prepare(runtime.config, body, route)  # images for a text-only model
        response = await (_image_agent(exchange, agent) if agent else _proxy(exchange))
        if record.status == 0:
            record.status = response.status
        if session_id and record.input_tokens:
            runtime.router.usage.record(session_id, record.input_tokens + record.cache_read_tokens)
        return response
    except CCRError as exc:
        exc.message = redact(exc.message, secrets)
        exc.args = (exc.message,)
        record.status, record.error = exc.status, exc.message
        raise
    except asyncio.CancelledError:
        record.status, record.error = 499, "client closed the connection"
        raise
    finally:
        record.duration_ms = round((time.monotonic() - started) * 1000, 2)
        _finish(request, record)


def _finish(request: web.Request, record: RequestRecord) -> None:
    request.app[STATS].record(record)
    count_task(request.app, record)  # execution API: tokens per Claude Code task
    fields: dict[str, object] = {k: v for k, v in (
        ("route", f"{record.provider},{record.model}" if record.provider else None),
        ("reason", record.route_reason or None), ("stream", record.stream), ("status", record.status),
        ("ttfb_ms", record.ttfb_ms), ("duration_ms", record.duration_ms),
        ("input_tokens", record.input_tokens), ("output_tokens", record.output_tokens),
        ("cache_read_tokens", record.cache_read_tokens), ("task_id", record.task_id),
        ("error", record.error)) if v is not None}
    fields.update(record.extra)  # e.g. api="openai" for /v1/chat/completions (ccr/server/api/chat.py)
    (log.warning if record.status >= 400 else log.info)("request", **fields)


def _headers(ex: Exchange) -> dict[str, str]:
    return {"x-ccr-route": f"{ex.route.name}; reason={ex.route.reason}",
            "request-id": ex.record.request_id}


async def _build_upstream(ex: Exchange) -> Upstream:
    if not ex.chain.native:
        return await prepare_upstream(ex.chain, ex.ctx, to_unified(ex.body, ex.route.model))
    headers = {name: ex.request.headers[name] for name in FORWARDED_HEADERS if name in ex.request.headers}
    # The dialect's admit step leaves out thinking that ccr signed (Anthropic rejects it).
    return await prepare_upstream(ex.chain, ex.ctx, {**ex.body, "model": ex.route.model}, headers)


async def _image_agent(ex: Exchange, agent: image_agent.ImageAgent) -> web.StreamResponse:
    """Hook for ccr/proxy/image_agent.py: analyzeImage calls answered by Router.image, spliced in."""
    headers = {name: ex.request.headers[name] for name in FORWARDED_HEADERS if name in ex.request.headers}
    call = image_agent.caller(ex.request.app, ex.runtime, headers, ex.ctx)
    events = image_agent.events(agent, ex.runtime, ex.route, call)
    if ex.record.stream:
        return await _write_events(ex, events, agent.summary)
    message = await accumulate(events(None))
    _count(ex, message.get("usage"))
    return web.json_response(message, headers=_headers(ex), dumps=jsonlib.dumps_str)


async def _proxy(ex: Exchange) -> web.StreamResponse:
    if not ex.record.stream:
        return await _call(ex)
    ex.out = _stream_out(ex)
    async with ex.out:  # keep-alive pings from now on, even while we wait for the provider
        try:
            return await _call(ex)
        except CCRError as exc:
            await ex.out.stop_pings()
            if not ex.out.started:
                raise  # nothing sent yet: a real HTTP error
            return await _end_with_error(ex, exc)


def _stream_out(ex: Exchange) -> StreamOut:
    return StreamOut(ex.request, _headers(ex), ex.runtime.config.keepalive_ms / 1000)


async def _call(ex: Exchange) -> web.StreamResponse:
    up = await _build_upstream(ex)

    def on_headers() -> None:
        ex.record.ttfb_ms = ex.elapsed_ms()

    async with open_upstream(ex.request.app, ex.runtime, ex.route, ex.ctx.api_key, up,
                             on_headers) as (is_stream, body):
        if ex.chain.native:
            return await _native_reply(ex, is_stream, body)
        return await _unified_reply(ex, is_stream, body)


async def _unified_reply(ex: Exchange, is_stream: bool, body: Body) -> web.StreamResponse:
    model, provider = ex.route.model, ex.route.provider.name
    summary = StreamSummary()
    if not is_stream:
        data = await chain_reply(ex.chain, ex.ctx, await reply_object(body, ex.ctx))
        message = to_message(data, model=model, provider=provider, request=ex.body)
        _count(ex, message.get("usage"))
        if ex.record.stream:
            return await _write_events(ex, _from_list(message_events(message)), summary)
        return web.json_response(message, headers=_headers(ex), dumps=jsonlib.dumps_str)

    def bad(data: str) -> None:
        ex.ctx.log.warning("skipped a stream event that is not JSON", data=data)

    def events(before_read: Any) -> AsyncIterator[Event]:  # no re-yielding layer per event
        chunks = json_chunks(body, summary, before_read, bad)
        return anthropic_events(chain_stream(ex.chain, ex.ctx, chunks), model=model,
                                provider=provider, request=ex.body, summary=summary)

    if ex.record.stream:
        return await _write_events(ex, events, summary)
    message = await accumulate(events(None))
    _count(ex, message.get("usage"))
    return web.json_response(message, headers=_headers(ex), dumps=jsonlib.dumps_str)


def _from_list(events: list[Event]) -> Any:
    async def gen(before_read: Any) -> AsyncIterator[Event]:
        for event in events:
            yield event
    return gen


def _count(ex: Exchange, usage: Any) -> None:
    if isinstance(usage, dict):
        ex.record.input_tokens = int(usage.get("input_tokens") or 0)
        ex.record.output_tokens = int(usage.get("output_tokens") or 0)
        ex.record.cache_read_tokens = int(usage.get("cache_read_input_tokens") or 0)


def _error_event(ex: Exchange, exc: BaseException) -> bytes:
    if isinstance(exc, CCRError):
        body = exc.body()
    elif isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        body = {"type": "error", "error": {"type": "timeout_error", "message":
                f"{ex.label}: the provider sent nothing for API_TIMEOUT_MS="
                f"{ex.runtime.config.api_timeout_ms} ms in the middle of the stream"}}
    elif isinstance(exc, aiohttp.ClientError):
        body = {"type": "error", "error": {"type": "api_error", "message":
                f"{ex.label}: the provider's stream failed: {type(exc).__name__}"}}
    else:  # a bug of ours: the details go to the log, not to the client
        body = {"type": "error", "error": {"type": "api_error", "message":
                f"{ex.label}: internal error in ccr while streaming (request id "
                f"{ex.record.request_id}); the details are in the ccr log"}}
    body["error"]["message"] = redact(body["error"]["message"], ex.route.provider.api_keys)
    ex.record.status = 502 if isinstance(exc, CCRError | TimeoutError | aiohttp.ClientError) else 500
    ex.record.error = body["error"]["message"]
    return encode_event("error", body)


async def _write_events(ex: Exchange, events: Any, summary: StreamSummary) -> web.StreamResponse:
    """Send the events to the client as they come: what one upstream read produced goes out in
    one write, flushed before the next read, except the first delta, which goes out at once."""
    own = ex.out is None  # the image agent's path calls this without _proxy
    out = ex.out = ex.out or _stream_out(ex)
    if own:
        await out.__aenter__()
    try:
        async for kind, data in events(out.flush):
            out.add(kind, data)
            summary.events += 1
            if out.flush_now:  # the first content: not after the rest of its read
                await out.flush()
    except ConnectionError:  # our client went away while we wrote
        ex.record.status, ex.record.error = 499, "client closed the connection"
        return out.response
    except Exception as exc:
        await out.stop_pings()  # settle first: a ping may be starting the response right now
        if not out.started:
            raise  # nothing sent yet: an HTTP error (mapped by _call and the middleware)
        if isinstance(exc, CCRError | aiohttp.ClientError | TimeoutError):  # the provider's side failed
            ex.ctx.log.warning("stream failed", error=str(exc))
        else:
            ex.ctx.log.exception("stream failed inside ccr")
        return await _end_with_error(ex, exc)
    finally:
        if own:
            await out.stop_pings()
    if summary.usage:  # a replayed JSON reply was counted already; its summary is empty
        _count(ex, summary.usage)
    await out.close()
    return out.response


async def _end_with_error(ex: Exchange, exc: BaseException) -> web.StreamResponse:
    """After the headers went out: what was made so far, then an Anthropic `error` event."""
    assert ex.out is not None
    ex.out.buffer += _error_event(ex, exc)
    await ex.out.close()
    return ex.out.response


async def _native_reply(ex: Exchange, is_stream: bool, body: Body) -> web.StreamResponse:
    """Anthropic in, Anthropic out: pass the bytes through, reading usage on the way."""
    steps_touch_stream = ex.chain.touches("stream")
    if not is_stream:
        message = await chain_reply(ex.chain, ex.ctx, await reply_object(body, ex.ctx, anthropic=True))
        _count(ex, message.get("usage"))
        if ex.record.stream:
            return await _write_events(ex, _from_list(message_events(message)), StreamSummary())
        return web.json_response(message, headers=_headers(ex), dumps=jsonlib.dumps_str)
    if not ex.record.stream or steps_touch_stream:
        summary = StreamSummary()

        async def events(before_read: Any) -> AsyncIterator[Event]:
            chunks = chain_stream(ex.chain, ex.ctx, json_chunks(body, summary, before_read))
            async for data in chunks:
                yield str(data.get("type", "message")), data

        if ex.record.stream:
            return await _write_events(ex, events, summary)
        message = await accumulate(events(None))
        _count(ex, message.get("usage"))
        return web.json_response(message, headers=_headers(ex), dumps=jsonlib.dumps_str)
    return await _pipe_native_stream(ex, body)


async def _pipe_native_stream(ex: Exchange, body: Body) -> web.StreamResponse:
    """Pass the provider's bytes on unchanged, but only whole events: if the provider fails
    mid-event, the client gets a clean `error` event, never half an event followed by one."""
    out = ex.out
    assert out is not None
    decoder = SSEDecoder()
    pending = bytearray()
    finished = False
    usage: dict[str, int] = {}
    try:
        async for chunk in body.chunks():
            pending += chunk
            end = event_boundary(pending)
            if end:
                await out.write(bytes(pending[:end]))
                del pending[:end]
            finished = _native_events(decoder.feed(chunk), usage) or finished
        if _native_events(decoder.close(), usage) and pending.strip():
            await out.write(bytes(pending) + b"\n\n")  # a final message_stop without its blank line
            finished = True
        if not finished:
            raise UpstreamError(f"{ex.label}: the provider's stream ended before message_stop", status=502)
    except (CCRError, aiohttp.ClientError, TimeoutError) as exc:
        await out.stop_pings()
        if not out.started:
            raise
        ex.ctx.log.warning("stream failed", error=str(exc))
        return await _end_with_error(ex, exc)
    except ConnectionError:
        ex.record.status, ex.record.error = 499, "client closed the connection"
        return out.response
    _count(ex, usage)
    await out.close()
    return out.response


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


@routes.post("/v1/messages/count_tokens")
async def count_tokens(request: web.Request) -> web.Response:
    body = await read_body(request)
    validate_request(body, require_model=False)
    runtime = request.app[RUNTIME]
    return web.json_response({"input_tokens": runtime.router.counter.request(body)})
