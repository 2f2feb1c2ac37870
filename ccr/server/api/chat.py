"""POST /v1/chat/completions: the OpenAI Chat Completions API in front of every provider.

    body -> router_view -> Router -> (provider, model, chain)
         -> hub_request (or anthropic_request for native Anthropic chains) -> chain.request
         -> provider reply -> chain.response / chain.stream -> unified -> OpenAI objects

The same routing, chains, key pools, stats and canonical log line as /v1/messages. Errors
are OpenAI-shaped (openai_errors.py); after a stream started, an error ends it with a
`data: {"error": ...}` chunk. Not served here: the image agent, execution-API tasks, session
Router overrides and the session-based long-context rule (no Claude Code session id).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from ccr import jsonlib
from ccr.errors import CCRError, RequestError, redact
from ccr.formats import openai_out
from ccr.formats.anthropic_to_unified import events_to_unified, message_to_unified
from ccr.formats.common import usage_from_unified
from ccr.formats.events import StreamSummary
from ccr.formats.openai_in import (
    hub_request,
    refuse_beyond_one_choice,
    router_view,
    validate_chat,
)
from ccr.formats.openai_to_anthropic import anthropic_request
from ccr.jsonlib import Json
from ccr.proxy.records import RequestRecord
from ccr.proxy.router import Route
from ccr.proxy.runtime import Runtime
from ccr.proxy.upstream import (
    Body,
    chain_reply,
    chain_stream,
    json_chunks,
    open_upstream,
    prepare_upstream,
    reply_object,
)
from ccr.server.api.chat_stream import DONE, ChatStreamOut
from ccr.server.api.messages import _finish as finish_record
from ccr.server.api.openai_errors import error_chunk, error_response, openai_error
from ccr.server.keys import HTTP, RUNTIME
from ccr.server.middlewares import REQUEST_ID
from ccr.transformers import Chain, Context, Upstream

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()
log = structlog.get_logger("ccr.chat")


@dataclass(slots=True)
class ChatCall:
    request: web.Request
    runtime: Runtime
    body: Json
    route: Route
    chain: Chain
    ctx: Context
    record: RequestRecord
    started: float
    reply: openai_out.Reply
    out: ChatStreamOut | None = None

    @property
    def native(self) -> bool:
        return self.chain.native

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))

    def headers(self) -> dict[str, str]:
        return {"x-ccr-route": f"{self.route.name}; reason={self.route.reason}",
                "request-id": self.record.request_id}


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    started = time.monotonic()
    runtime = request.app[RUNTIME]
    record = RequestRecord(request_id=request[REQUEST_ID], extra={"api": "openai"})
    secrets: tuple[str, ...] = ()
    try:
        body = await _read(request)
        validate_chat(body)
        record.stream = bool(body.get("stream"))
        view = router_view(body)
        route = await runtime.router.route(view)
        record.provider, record.model, record.route_reason = route.provider.name, route.model, route.reason
        secrets = route.provider.api_keys
        chain = runtime.chain(route.provider, route.model)
        ctx = Context(provider=route.provider, model=route.model, request=view,
                      api_key=runtime.keys(route.provider).next(), stream=record.stream,
                      log=log.bind(route=route.name), state={},
                      http=request.app[HTTP], proxy=runtime.config.proxy_url)
        call = ChatCall(request, runtime, body, route, chain, ctx, record, started,
                        openai_out.Reply(model=route.model, label=route.name))
        response = await _proxy(call)
        record.status = record.status or response.status
        return response
    except CCRError as exc:
        message = redact(exc.message, secrets)
        record.status, record.error = exc.status, message
        return error_response(exc, message)
    except asyncio.CancelledError:
        record.status, record.error = 499, "client closed the connection"
        raise
    except Exception:  # a bug of ours: details to the log, not to the client
        log.exception("unhandled error", path=request.path)
        message = f"Internal error in ccr (request id {record.request_id}); the details are in the ccr log"
        record.status, record.error = 500, message
        return web.json_response(openai_error(500, message, "api_error"), status=500)
    finally:
        record.duration_ms = round((time.monotonic() - started) * 1000, 2)
        finish_record(request, record)


async def _read(request: web.Request) -> Json:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise CCRError("request body is too large", status=413, error_type="request_too_large") from None
    try:
        body = jsonlib.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object (an OpenAI chat completions request)")
    return body


async def _proxy(call: ChatCall) -> web.StreamResponse:
    up = await _build(call)
    if not call.record.stream:
        return await _call(call, up)
    call.out = ChatStreamOut(call.request, call.headers(), call.runtime.config.keepalive_ms / 1000)
    async with call.out:  # keep-alive comments from now on
        try:
            return await _call(call, up)
        except CCRError as exc:
            await call.out.stop_pings()
            if not call.out.started:
                raise  # nothing sent yet: a real HTTP error
            return await _end_with_error(call, exc)


async def _build(call: ChatCall) -> Upstream:
    dialect = call.chain.dialect.name if call.chain.dialect else "openai"
    if not call.native and dialect != "openai":
        refuse_beyond_one_choice(call.body, f"{call.route.name} (dialect {dialect}) cannot take")
    if call.native:
        body = anthropic_request(call.body, call.route.model, call.route.provider.name)
    else:
        body = hub_request(call.body, call.route.model)
    return await prepare_upstream(call.chain, call.ctx, body)


async def _call(call: ChatCall, up: Upstream) -> web.StreamResponse:
    def on_headers() -> None:
        call.record.ttfb_ms = round((time.monotonic() - call.started) * 1000, 2)

    async with open_upstream(call.request.app, call.runtime, call.route, call.ctx.api_key, up,
                             on_headers) as (is_stream, body):
        if not is_stream:
            completion = openai_out.completion(await _whole_reply(call, body), call.reply)
            _count(call)
            if call.out is not None:
                return await _write(call, lambda _: _listed(openai_out.replay(completion, call.include_usage)))
            return web.json_response(completion, headers=call.headers())
        summary = StreamSummary()

        def chunks(before_read: Any) -> AsyncIterator[Json]:
            def bad(data: str) -> None:
                call.ctx.log.warning("skipped a stream event that is not JSON", data=data)

            unified = chain_stream(call.chain, call.ctx, json_chunks(body, summary, before_read, bad))
            if call.native:
                unified = events_to_unified(unified)
            return openai_out.chunks(unified, call.reply, call.include_usage or call.out is None,
                                     done=lambda: summary.done)

        if call.out is not None:
            return await _write(call, chunks)
        completion = await openai_out.accumulate(chunks(None))
        _count(call)
        return web.json_response(completion, headers=call.headers())


async def _whole_reply(call: ChatCall, body: Body) -> Json:
    reply = await reply_object(body, call.ctx, anthropic=call.native)
    data = await chain_reply(call.chain, call.ctx, reply)
    return message_to_unified(data) if call.native else data


async def _listed(items: list[Json]) -> AsyncIterator[Json]:
    for item in items:
        yield item


def _count(call: ChatCall) -> None:
    usage = usage_from_unified(call.reply.usage)
    call.record.input_tokens, call.record.output_tokens = usage["input_tokens"], usage["output_tokens"]
    call.record.cache_read_tokens = usage["cache_read_input_tokens"]


async def _write(call: ChatCall, chunks: Callable[[Any], AsyncIterator[Json]]) -> web.StreamResponse:
    """Send the chunks as they come: what one upstream read produced goes out in one write,
    flushed before the next read, except the first chunk with content, which goes out at once."""
    out = call.out
    assert out is not None
    try:
        async for chunk in chunks(out.flush):
            out.add_chunk(chunk)
            if out.flush_now:  # the first content: not after the rest of its read
                await out.flush()
    except ConnectionError:  # our client went away while we wrote
        call.record.status, call.record.error = 499, "client closed the connection"
        return out.response
    except Exception as exc:
        await out.stop_pings()  # settle first: a ping may be starting the response right now
        if not out.started:
            raise  # nothing sent yet: an HTTP error (mapped by open_upstream and the handler)
        if isinstance(exc, CCRError | aiohttp.ClientError | TimeoutError):
            call.ctx.log.warning("stream failed", error=str(exc))
        else:
            call.ctx.log.exception("stream failed inside ccr")
        return await _end_with_error(call, exc)
    _count(call)
    out.buffer += DONE
    await out.close()
    return out.response


async def _end_with_error(call: ChatCall, exc: BaseException) -> web.StreamResponse:
    """After the headers went out: what was made so far, then an error chunk (no [DONE])."""
    assert call.out is not None
    label = call.route.name
    if isinstance(exc, CCRError):
        status, message, code = exc.status, exc.message, exc.error_type
    elif isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        status, code = 504, "timeout_error"
        message = (f"{label}: the provider sent nothing for API_TIMEOUT_MS="
                   f"{call.runtime.config.api_timeout_ms} ms in the middle of the stream")
    elif isinstance(exc, aiohttp.ClientError):
        status, code, message = 502, "api_error", f"{label}: the provider's stream failed: {type(exc).__name__}"
    else:
        status, code = 500, "api_error"
        message = (f"{label}: internal error in ccr while streaming (request id "
                   f"{call.record.request_id}); the details are in the ccr log")
    message = redact(message, call.route.provider.api_keys)
    call.record.status = 500 if status == 500 and not isinstance(exc, CCRError) else 502
    call.record.error = message
    _count(call)
    call.out.buffer += error_chunk(status, message, code)
    await call.out.close()
    return call.out.response


def setup(app: web.Application) -> None:
    app.add_routes(routes)
