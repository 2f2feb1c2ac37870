"""Errors in the OpenAI shape, for the OpenAI-compatible endpoint only.

    {"error": {"message": "...", "type": "invalid_request_error", "param": "messages", "code": null}}

The status is the one ccr uses everywhere (see ccr/errors.py); `type` is OpenAI's name for it,
`code` ccr's (Anthropic) error type, `param` the parameter a request error names, if any.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ccr.errors import CCRError, RateLimitError, UpstreamError

__all__ = ["openai_error", "error_response", "error_chunk"]

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error"}
_PARAM = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): ")


def openai_error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    kind = _TYPES.get(status) or ("invalid_request_error" if status < 500 else "server_error")
    match = _PARAM.match(message) if status == 400 else None
    return {"error": {"message": message, "type": kind, "param": match.group(1) if match else None,
                      "code": code}}


def error_response(exc: CCRError, message: str | None = None) -> web.Response:
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, RateLimitError | UpstreamError) and retry_after:
        headers["retry-after"] = str(retry_after)
    body = openai_error(exc.status, message if message is not None else exc.message, exc.error_type)
    return web.json_response(body, status=exc.status, headers=headers)


def error_chunk(status: int, message: str, code: str) -> bytes:
    from ccr import jsonlib

    return b"data: " + jsonlib.dumps(openai_error(status, message, code)) + b"\n\n"
