"""POST /v1/messages and /v1/messages/count_tokens: the Anthropic front door.

Read and validate the body, hand it to the pipeline (ccr/proxy/pipeline.py: route, transform,
call, reply), and frame what comes back: one JSON message, or Anthropic events. Errors before
the reply starts are HTTP errors in the Anthropic shape (see middlewares.py); errors after a
stream has started end it with an Anthropic `error` event (stream_out.py).
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiohttp import web

from ccr import jsonlib
from ccr.errors import CCRError, error_body, redact
from ccr.formats.validate import validate_request
from ccr.proxy import pipeline
from ccr.proxy.records import TASK_HEADER, Bodies, PreparedRequest, RequestRecord, read_task_header
from ccr.proxy.router import session_id_of
from ccr.server.api.stream_out import StreamOut, stream_reply
from ccr.server.body import read_json
from ccr.server.keys import HTTP, RECORD_OBSERVERS, REQUEST_ADJUSTERS, RUNTIME
from ccr.server.middlewares import REQUEST_ID
from ccr.transformers.anthropic import FORWARDED_HEADERS

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()
log = structlog.get_logger("ccr.messages")


@routes.post("/v1/messages")
async def messages(request: web.Request) -> web.StreamResponse:
    started = time.monotonic()
    app = request.app
    runtime = app[RUNTIME]  # this snapshot serves the whole request, reload or not
    task_id, task = read_task_header(request.headers.get(TASK_HEADER))
    record = RequestRecord(request_id=request[REQUEST_ID], task_id=task_id)
    observers = app[RECORD_OBSERVERS]
    bodies = Bodies() if observers.want_bodies else None  # the inspector is on
    ex: pipeline.Exchange | None = None
    try:
        body = await read_json(request, "an Anthropic Messages request", keep=bodies)
        validate_request(body)
        record.stream = bool(body.get("stream"))
        record.session_id = session_id_of(body, request.headers.get("X-Claude-Code-Session-Id"))
        headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
        prepared = PreparedRequest("anthropic", body, record.request_id, stream=record.stream,
                                   session_id=record.session_id, task_id=record.task_id,
                                   headers=headers, record=record, size=request.content_length, task=task)
        ex = pipeline.Exchange(app[HTTP], runtime, prepared, record, log, started, bodies=bodies)
        await pipeline.route(ex, app[REQUEST_ADJUSTERS])
        if record.stream:
            response = await stream_reply(StreamOut(request, ex.headers(), runtime.config.keepalive_ms / 1000), ex)
        else:
            async with pipeline.reply(ex) as answer:
                message = await answer.whole()
            response = web.Response(body=jsonlib.dumps(message), headers=ex.headers(),
                                    content_type="application/json", charset="utf-8")
            if bodies is not None and isinstance(response.body, bytes):
                bodies.add_reply(response.body)
        record.status = record.status or response.status
        return response
    except CCRError as exc:
        exc.message = redact(exc.message, ex.secrets if ex is not None else ())
        exc.args = (exc.message,)
        record.status, record.error = exc.status, exc.message
        if bodies is not None and not bodies.reply:  # the error answer the middleware writes
            bodies.add_reply(jsonlib.dumps(error_body(exc.error_type, exc.message)))
        raise
    except asyncio.CancelledError:
        record.status, record.error = 499, "client closed the connection"
        raise
    finally:
        pipeline.finish(record, started, runtime, observers, bodies)


@routes.post("/v1/messages/count_tokens")
async def count_tokens(request: web.Request) -> web.Response:
    body = await read_json(request, "an Anthropic Messages request")
    validate_request(body, require_model=False)
    runtime = request.app[RUNTIME]
    return web.json_response({"input_tokens": await runtime.router.counter.count(body)})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
