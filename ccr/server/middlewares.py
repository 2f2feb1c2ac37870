"""Request ids and the one mapping from exceptions to Anthropic-shaped error responses.

After a stream's headers are out, errors can no longer change the status: the streaming
handlers end those with an `error` event themselves (see `ccr.server.api.messages`).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from ccr.errors import (
    CCRError,
    RateLimitError,
    UpstreamError,
    error_body,
    error_type_for_status,
)

__all__ = ["request_id_middleware", "error_middleware", "error_response", "REQUEST_ID"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
log = structlog.get_logger("ccr.http")


def error_response(status: int, error_type: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(error_type, message), status=status, headers=headers)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = "req_" + secrets.token_hex(12)
    request[REQUEST_ID] = request_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    response = await handler(request)
    if not response.prepared:
        response.headers["request-id"] = request_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CCRError as exc:
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(exc, RateLimitError | UpstreamError) and retry_after:
            headers["retry-after"] = str(retry_after)
        if exc.status >= 500 and not isinstance(exc, UpstreamError):  # the request line says it already
            log.warning("request failed", status=exc.status, error=exc.message)
        return error_response(exc.status, exc.error_type, exc.message, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 404:
            message = f"Not found: {request.method} {request.path}"
        elif exc.status == 405:
            message = f"Method {request.method} is not allowed on {request.path}"
        elif exc.status == 413:
            message = "Request body is too large"
        return error_response(exc.status, error_type_for_status(exc.status), message)
    except Exception:
        log.exception("unhandled error", path=request.path)
        request_id = request.get(REQUEST_ID, "")
        return error_response(500, "api_error", f"Internal error in ccr (request id {request_id}); "
                              "the details are in the ccr log")
