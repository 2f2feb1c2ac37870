"""POST /v1/chat/completions: the OpenAI Chat Completions API in front of every provider.

Read and validate the body, hand it to the pipeline (ccr/proxy/pipeline.py: the router sees
`router_view(body)`, then the same chains, key pools, observers and canonical log line as
/v1/messages), and frame the reply as an OpenAI completion or chunks. Errors are OpenAI-shaped
(openai_errors.py); after a stream started, an error ends it with a `data: {"error": ...}`
chunk. Not served here: the image agent, execution-API tasks, session Router overrides and the
session-based long-context rule (no Claude Code session id).
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiohttp import web

from ccr import jsonlib
from ccr.errors import CCRError, redact
from ccr.formats.openai_in import validate_chat
from ccr.proxy import pipeline
from ccr.proxy.records import Bodies, PreparedRequest, RequestRecord
from ccr.server.api.openai_errors import error_response, openai_error
from ccr.server.api.stream_out import ChatStreamOut, stream_reply
from ccr.server.body import read_json
from ccr.server.keys import HTTP, RECORD_OBSERVERS, REQUEST_ADJUSTERS, RUNTIME
from ccr.server.middlewares import REQUEST_ID

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()
log = structlog.get_logger("ccr.chat")


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    started = time.monotonic()
    app = request.app
    runtime = app[RUNTIME]
    record = RequestRecord(request_id=request[REQUEST_ID], front="openai")
    observers = app[RECORD_OBSERVERS]
    bodies = Bodies() if observers.want_bodies else None  # the inspector is on
    ex: pipeline.Exchange | None = None
    try:
        body = await read_json(request, "an OpenAI chat completions request", keep=bodies)
        validate_chat(body)
        record.stream = bool(body.get("stream"))
        prepared = PreparedRequest("openai", body, record.request_id, stream=record.stream, record=record,
                                   size=request.content_length)
        ex = pipeline.Exchange(app[HTTP], runtime, prepared, record, log, started, bodies=bodies)
        await pipeline.route(ex, app[REQUEST_ADJUSTERS])
        if record.stream:
            out = ChatStreamOut(request, ex.headers(), runtime.config.keepalive_ms / 1000)
            response = await stream_reply(out, ex)
        else:
            async with pipeline.reply(ex) as answer:
                completion = await answer.whole()
            response = web.Response(body=jsonlib.dumps(completion), headers=ex.headers(),
                                    content_type="application/json", charset="utf-8")
        record.status = record.status or response.status
        _keep_reply(bodies, response)
        return response
    except CCRError as exc:
        message = redact(exc.message, ex.secrets if ex is not None else ())
        record.status, record.error = exc.status, message
        return _keep_reply(bodies, error_response(exc, message))
    except asyncio.CancelledError:
        record.status, record.error = 499, "client closed the connection"
        raise
    except Exception:  # a bug of ours: details to the log, not to the client
        log.exception("unhandled error", path=request.path)
        message = f"Internal error in ccr (request id {record.request_id}); the details are in the ccr log"
        record.status, record.error = 500, message
        return _keep_reply(bodies, web.json_response(openai_error(500, message, "api_error"), status=500))
    finally:
        pipeline.finish(record, started, runtime, observers, bodies)


def _keep_reply(bodies: Bodies | None, response: web.StreamResponse) -> web.StreamResponse:
    """A whole answer's bytes for the inspector (a stream's are kept by its writer)."""
    if bodies is not None and isinstance(response, web.Response) and isinstance(response.body, bytes):
        bodies.add_reply(response.body)
    return response


def setup(app: web.Application) -> None:
    app.add_routes(routes)
