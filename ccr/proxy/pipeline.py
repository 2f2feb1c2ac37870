"""One request through ccr, written once for every caller: both front doors and the image agent.

    ex = Exchange(http, runtime, prepared, record, log, started)
    await route(ex, adjusters)              # Router, then the adjusters (and routing again if asked)
    async with reply(ex) as answer:         # to the wire, chain.request, POST, sniff, chain back
        answer.whole() | answer.stream() | answer.raw   # the reply in the front door's shape
    finish(record, started, runtime, observers, ex.bodies)   # the observers, then the canonical log line

The reply comes in the shape of the front door that asked (`prepared.front`): Anthropic events
and messages for /v1/messages, OpenAI chunks and completions for /v1/chat/completions. A native
Anthropic chain skips the unified shape both ways; on /v1/messages, when no step touches its
stream, its bytes pass through unchanged (`answer.raw`, whole events only). Thinking that ccr
signed itself (`ccr1:`) never reaches a native Anthropic provider, whichever caller sent it
(the anthropic dialect's `admit` step, which `Chain.request` runs on every path).

While an observer wants bodies (the inspector), the front door sets `ex.bodies` (records.Bodies):
the body sent to the last target tried is kept there, serialised after the chain's request
steps, on every path (fallbacks, the image agent's calls); otherwise nothing is copied.

Errors before the reply starts are raised (CCRError); `failure(ex, exc)` maps one that happens
while a stream is being written to what the front door's `error` frame says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
import structlog

from ccr import jsonlib
from ccr.errors import CCRError, UpstreamError, redact
from ccr.formats import openai_out
from ccr.formats.anthropic_to_unified import events_to_unified, message_to_unified
from ccr.formats.assemble import accumulate, message_events
from ccr.formats.common import usage_from_unified
from ccr.formats.events import StreamSummary, anthropic_events, anthropic_frames
from ccr.formats.openai_in import hub_request, refuse_beyond_one_choice, router_view
from ccr.formats.openai_to_anthropic import anthropic_request
from ccr.formats.reply import to_message
from ccr.formats.request import to_unified
from ccr.jsonlib import Json
from ccr.logs.setup import level_number
from ccr.transformers import Chain, Context, Upstream

from . import image_agent
from .records import (
    Adjuster,
    AttemptRecord,
    Bodies,
    Observer,
    PreparedRequest,
    RecordedExchange,
    RequestRecord,
    notify,
)
from .router import Route
from .runtime import Runtime
from .upstream import (
    BeforeRead,
    Body,
    chain_reply,
    chain_stream,
    json_chunks,
    open_upstream,
    prepare_upstream,
    reply_object,
    whole_events,
)

__all__ = ["Exchange", "Answer", "Items", "Reply", "route", "reply", "failure", "finish"]

#: A streamed reply: called with the writer's flush (or None), it yields the front door's items,
#: Anthropic `(event, data)` pairs or OpenAI chunk objects.
Items = Callable[[BeforeRead | None], AsyncIterator[Any]]
record_log = structlog.get_logger("ccr.messages")  # the canonical log line, whichever front door


@dataclass(slots=True)
class Exchange:
    """One proxied request: what was asked, where it went, and what is recorded about it."""

    http: aiohttp.ClientSession
    runtime: Runtime
    prepared: PreparedRequest
    record: RequestRecord
    log: Any
    started: float = field(default_factory=time.monotonic)
    view: Json | None = None        # what the router and the transformers see of the request
    target: Route | None = None     # the route that answered (or the last one tried)
    tried: list[Route] = field(default_factory=list)
    bodies: Bodies | None = None    # the bytes kept for observers that want bodies, else None

    @property
    def route(self) -> Route:
        route = self.target or self.prepared.route
        assert route is not None, "route() first"
        return route

    @property
    def secrets(self) -> tuple[str, ...]:
        """The keys of every provider this request went to (never to be shown)."""
        routes = [*self.tried, *([self.prepared.route] if self.prepared.route else [])]
        return tuple(key for route in routes for key in route.provider.api_keys)

    def headers(self) -> dict[str, str]:
        """The response headers naming the route that answered (and whether it was a fallback)."""
        route = f"{self.route.name}; reason={self.route.reason}"
        return {"x-ccr-route": route + ("; fallback" if self.record.fallback else ""),
                "request-id": self.record.request_id}

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 2)


async def route(ex: Exchange, adjusters: list[Adjuster]) -> Route:
    """Pick the route; let the adjusters change the request; route again if one asked to."""
    prepared = ex.prepared
    if prepared.front == "openai":
        ex.view = router_view(prepared.body)
    prepared.route = await _route(ex)
    for adjust in adjusters:
        adjust(prepared)
        if prepared.route is None:  # the adjuster changed what routing depends on
            prepared.route = await _route(ex)
    chosen = prepared.route
    record = ex.record
    record.provider, record.model, record.route_reason = chosen.provider.name, chosen.model, chosen.reason
    ex.log = ex.log.bind(route=chosen.name)
    return chosen


async def _route(ex: Exchange) -> Route:
    body = ex.view if ex.view is not None else ex.prepared.body
    return await ex.runtime.router.route(body, ex.prepared.session_id)


@dataclass(slots=True)
class Answer:
    """The provider's reply in the front door's shape: a whole message, items, or raw events."""

    ex: Exchange
    message: Json | None = None       # a whole reply (Anthropic message / OpenAI completion)
    items: Items | None = None        # a streamed reply
    raw: AsyncIterator[bytes] | None = None   # native Anthropic events, passed on as bytes
    usage: Callable[[], Mapping[str, Any] | None] = lambda: None  # Anthropic usage, once read

    async def whole(self) -> Json:
        """The reply as one object (a streamed one is gathered), its tokens counted."""
        if self.message is not None:
            message = self.message
        elif self.ex.prepared.front == "anthropic":
            message = await accumulate(self._items()(None))
        else:
            message = await openai_out.accumulate(self._items()(None))
        self.ex.record.count(message.get("usage") if self.ex.prepared.front == "anthropic" else self.usage())
        return message

    def stream(self) -> Items:
        """The reply as items to write (a whole one is replayed as events or chunks)."""
        message = self.message
        if message is None:
            return self._items()
        if self.ex.prepared.front == "anthropic":
            self.ex.record.count(message.get("usage"))
            return _listed(message_events(message))
        return _listed(openai_out.replay(message, _include_usage(self.ex.prepared.body)))

    def counted(self) -> None:
        """After a stream: take its tokens."""
        usage = self.usage()
        if usage:
            self.ex.record.count(usage)

    def _items(self) -> Items:
        assert self.items is not None
        return self.items


def _listed(items: list[Any]) -> Items:
    async def replay(before_read: BeforeRead | None) -> AsyncIterator[Any]:
        for item in items:
            yield item
    return replay


def _include_usage(body: Json) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


@dataclass(slots=True)
class _Call:
    """One call to one target: its chain and the Context its steps see."""

    route: Route
    chain: Chain
    ctx: Context

    @property
    def native(self) -> bool:
        return self.chain.native


def _call(ex: Exchange, target: Route) -> _Call:
    runtime = ex.runtime
    chain = runtime.chain(target.provider, target.model)
    request = ex.view if ex.view is not None else ex.prepared.body
    ctx = Context(provider=target.provider, model=target.model, request=request,
                  api_key=runtime.keys(target.provider).next(), stream=ex.prepared.stream,
                  log=ex.log, state={}, http=ex.http, proxy=runtime.config.proxy_url)
    return _Call(target, chain, ctx)


async def _to_wire(ex: Exchange, call: _Call) -> Upstream:
    """The body in the chain's shape, then the chain's request steps."""
    body, model = ex.prepared.body, call.route.model
    if ex.prepared.front == "openai":
        dialect = call.chain.dialect.name if call.chain.dialect else "openai"
        if not call.native and dialect != "openai":
            refuse_beyond_one_choice(body, f"{call.route.name} (dialect {dialect}) cannot take")
        wire = anthropic_request(body, model, call.route.provider.name) if call.native else hub_request(body, model)
        return await prepare_upstream(call.chain, call.ctx, wire)
    if not call.native:
        return await prepare_upstream(call.chain, call.ctx, to_unified(body, model))
    # The dialect's admit step leaves out thinking that ccr signed (Anthropic rejects it), on
    # every path that comes here: both front doors and the image agent.
    return await prepare_upstream(call.chain, call.ctx, {**body, "model": model}, dict(ex.prepared.headers))


def reply(ex: Exchange, *, nested: bool = False) -> Reply:
    """Call the route and hold the provider's reply open while the caller reads it:
    `async with reply(ex) as answer`. A native stream nothing touches comes as bytes
    (`answer.raw`), except to `nested` callers (the image agent's own calls), which always get
    events."""
    return Reply(ex, nested)


class Reply:
    """`reply()`'s context: a class, not an @asynccontextmanager (one less generator, its
    wrapper and the loop's bookkeeping for it, on every request)."""

    __slots__ = ("_opened", "ex", "nested")

    def __init__(self, ex: Exchange, nested: bool) -> None:
        self.ex, self.nested = ex, nested
        self._opened: open_upstream | None = None

    async def __aenter__(self) -> Answer:
        ex, nested = self.ex, self.nested
        target = ex.route
        if ex.prepared.front == "anthropic" and not nested:
            agent = image_agent.prepare(ex.runtime.config, ex.prepared.body, target)
            if agent is not None:  # images for a text-only model: answered through Router.image
                ex.target = target
                run = image_agent.run(agent, ex.runtime, target, _caller(ex))
                return Answer(ex, items=lambda before_read: run, usage=lambda: agent.summary.usage)
        call, self._opened, is_stream, body = await _first_answer(ex, _targets(ex, target))
        try:
            shape = _anthropic if ex.prepared.front == "anthropic" else _openai
            return await shape(ex, call, is_stream, body, ex.prepared.stream and not nested)
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """The provider's reply is closed; an error while reading it comes out as open_upstream
        says what failed."""
        opened, self._opened = self._opened, None
        if opened is not None:
            await opened.__aexit__(exc_type, exc, tb)


#: Provider statuses after which the next fallback target is tried (the request was fine).
RETRIED = frozenset({429, 500, 502, 503, 504, 529})


def _targets(ex: Exchange, first: Route) -> list[Route]:
    """The route, then its rule's fallback targets (ccr/config/fallback.py), each once."""
    rule = first.reason.split(" ", 1)[0]
    out = [first]
    for value in ex.runtime.fallback.get(rule, ()):
        provider, model = ex.runtime.router.resolve(value, f"fallback.{rule}")
        if all((r.provider.name, r.model) != (provider.name, model) for r in out):
            out.append(Route(provider, model, first.reason))
    return out


def _retried(exc: UpstreamError) -> bool:
    """A refused connection, a silence before the first byte, a reply cut off before it
    started (no provider status), or a status that says "not now"."""
    return exc.upstream_status is None or exc.upstream_status in RETRIED


async def _first_answer(ex: Exchange, targets: list[Route]) -> tuple[_Call, open_upstream, bool, Body]:
    """Open the first target that answers: on a retried failure, the next one. A provider in
    cool-down (health.py) is skipped while a later target remains; the last one is always
    tried. Nothing has reached the client yet when this returns or raises."""
    health, attempts = ex.runtime.health, ex.record.attempts
    for i, target in enumerate(targets):
        name, last = target.provider.name, i == len(targets) - 1
        if len(targets) > 1:
            if not last and not health.available(name):
                attempts.append(AttemptRecord(name, target.model, None, "skipped: circuit open"))
                continue
            if wait := health.wait(name):  # the provider's Retry-After, bounded
                await asyncio.sleep(wait)
        ex.target, ex.record.fallback = target, target is not targets[0]
        ex.record.provider, ex.record.model = name, target.model
        ex.tried.append(target)
        call = _call(ex, target)
        up = await _to_wire(ex, call)
        if ex.bodies is not None:  # the inspector is on: what this target is sent, as sent
            ex.bodies.provider = jsonlib.dumps(up.body)
        opened = open_upstream(ex.http, ex.runtime, target, call.ctx.api_key, up, lambda: _headers_came(ex))
        try:
            is_stream, body = await opened.__aenter__()
        except UpstreamError as exc:
            attempts.append(AttemptRecord(name, target.model, exc.upstream_status, exc.message))
            if not _retried(exc):
                raise
            health.failed(name, exc.retry_after)
            if last:
                raise
            ex.log.warning("provider failed; trying the next target", failed=target.name,
                           status=exc.upstream_status, next=targets[i + 1].name)
            continue
        health.succeeded(name)
        attempts.append(AttemptRecord(name, target.model, body.response.status))
        return call, opened, is_stream, body
    raise AssertionError("unreachable: the last target is always tried")


def _headers_came(ex: Exchange) -> None:
    ex.record.ttfb_ms = ex.elapsed_ms()


async def _anthropic(ex: Exchange, call: _Call, is_stream: bool, body: Body, raw: bool) -> Answer:
    chain, ctx, target, request = call.chain, call.ctx, call.route, ex.prepared.body
    if not is_stream:
        data = await chain_reply(chain, ctx, await reply_object(body, ctx, anthropic=call.native))
        return Answer(ex, message=data if call.native else to_message(
            data, model=target.model, provider=target.provider.name, request=request))
    summary = StreamSummary()
    if call.native:
        if raw and not chain.touches("stream"):
            usage: dict[str, int] = {}
            return Answer(ex, raw=whole_events(body, target.name, usage), usage=lambda: usage)

        async def native(before_read: BeforeRead | None) -> AsyncIterator[Any]:
            async for data in chain_stream(chain, ctx, json_chunks(body, summary, before_read, _bad(ctx))):
                yield str(data.get("type", "message")), data
        return Answer(ex, items=native, usage=lambda: summary.usage)

    def events(before_read: BeforeRead | None) -> AsyncIterator[Any]:  # no re-yielding layer per event
        chunks = json_chunks(body, summary, before_read, _bad(ctx))
        # the client reads a stream and no transformer reads it: text deltas go out as finished frames
        if ex.record.stream and chain_stream(chain, ctx, chunks) is chunks:
            return anthropic_frames(body.chunks(), before_read, model=target.model,
                                    provider=target.provider.name, request=request, summary=summary,
                                    on_bad_data=_bad(ctx))
        return anthropic_events(chain_stream(chain, ctx, chunks), model=target.model,
                                provider=target.provider.name, request=request, summary=summary)
    return Answer(ex, items=events, usage=lambda: summary.usage)


async def _openai(ex: Exchange, call: _Call, is_stream: bool, body: Body, raw: bool) -> Answer:
    chain, ctx = call.chain, call.ctx
    out = openai_out.Reply(model=call.route.model, label=call.route.name)

    def usage() -> Mapping[str, Any]:
        return usage_from_unified(out.usage)

    if not is_stream:
        data = await chain_reply(chain, ctx, await reply_object(body, ctx, anthropic=call.native))
        return Answer(ex, message=openai_out.completion(message_to_unified(data) if call.native else data, out),
                      usage=usage)
    summary = StreamSummary()
    include = _include_usage(ex.prepared.body) or not ex.prepared.stream

    def chunks(before_read: BeforeRead | None) -> AsyncIterator[Any]:
        unified = chain_stream(chain, ctx, json_chunks(body, summary, before_read, _bad(ctx)))
        if call.native:
            unified = events_to_unified(unified)
        return openai_out.chunks(unified, out, include, done=lambda: summary.done)
    return Answer(ex, items=chunks, usage=usage)


def _bad(ctx: Context) -> Callable[[str], None]:
    def bad(data: str) -> None:
        ctx.log.warning("a stream event is not JSON", data=data)
        raise UpstreamError(f"{ctx.provider.name},{ctx.model}: the provider sent a stream event "
                            "that is not JSON", status=502)
    return bad


def _caller(ex: Exchange) -> image_agent.Caller:
    """The image agent's provider calls: this pipeline again, Anthropic events out."""

    async def call(target: Route, body: Json) -> AsyncIterator[image_agent.Event]:
        prepared = PreparedRequest("anthropic", body, ex.prepared.request_id, stream=bool(body.get("stream")),
                                   headers=ex.prepared.headers, route=target)
        sub = Exchange(ex.http, ex.runtime, prepared, RequestRecord(ex.record.request_id), ex.log,
                       bodies=ex.bodies)
        async with reply(sub, nested=True) as answer:
            if ex.record.ttfb_ms is None:
                ex.record.ttfb_ms = ex.elapsed_ms()
            async for event in answer.stream()(None):
                yield event

    return call


def failure(ex: Exchange, exc: BaseException) -> tuple[int, str, str]:
    """A stream that failed after it started: (status, error type, message) for its last
    frame; the record says 502 for the provider's side, 500 for a bug of ours."""
    label = ex.route.name
    if isinstance(exc, CCRError):
        status, kind, message = exc.status, exc.error_type, exc.message
    elif isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        status, kind = 504, "timeout_error"
        message = (f"{label}: the provider sent nothing for API_TIMEOUT_MS="
                   f"{ex.runtime.config.api_timeout_ms} ms in the middle of the stream")
    elif isinstance(exc, aiohttp.ClientError):
        status, kind, message = 502, "api_error", f"{label}: the provider's stream failed: {type(exc).__name__}"
    else:  # a bug of ours: the details go to the log, not to the client
        status, kind = 500, "api_error"
        message = (f"{label}: internal error in ccr while streaming (request id "
                   f"{ex.record.request_id}); the details are in the ccr log")
    message = redact(message, ex.secrets)
    ours = isinstance(exc, CCRError | TimeoutError | aiohttp.ClientError)
    ex.record.status, ex.record.error = (502 if ours else 500), message
    return status, kind, message


def finish(record: RequestRecord, started: float, runtime: Runtime, observers: list[Observer],
           bodies: Bodies | None = None) -> None:
    """The request is over: the observers (the usage ledger fills in `cost_usd`; `bodies` when
    they asked for them), then the canonical log line."""
    record.latency_ms = round((time.monotonic() - started) * 1000, 2)
    if record.session_id and record.input_tokens:
        runtime.router.usage.record(record.session_id, record.input_tokens + record.cache_read_tokens)
    notify(observers, RecordedExchange(record) if bodies is None else bodies.exchange(record))
    if record.status < 400 and level_number(runtime.config.log_level) > logging.INFO:
        return  # the line would be filtered out: do not build it
    fields: dict[str, object] = {k: v for k, v in (
        ("route", f"{record.provider},{record.model}" if record.provider else None),
        ("reason", record.route_reason or None), ("stream", record.stream), ("status", record.status),
        ("ttfb_ms", record.ttfb_ms), ("duration_ms", record.latency_ms),
        ("input_tokens", record.input_tokens), ("output_tokens", record.output_tokens),
        ("cache_read_tokens", record.cache_read_tokens), ("cost_usd", record.cost_usd),
        ("max_tokens_clamped", record.max_tokens_clamped), ("task_id", record.task_id),
        ("error", record.error)) if v is not None}
    if record.front == "openai":
        fields["api"] = "openai"
    if len(record.attempts) > 1:  # every target tried, in order
        fields["attempts"] = [f"{a.provider},{a.model} {a.status or a.error}" for a in record.attempts]
        fields["fallback"] = record.fallback
    (record_log.warning if record.status >= 400 else record_log.info)("request", **fields)
