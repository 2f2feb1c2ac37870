"""Reading a request's JSON body, with the 4xx answers both front doors give."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ccr import jsonlib
from ccr.errors import CCRError, RequestError
from ccr.proxy.records import Bodies

__all__ = ["read_body"]


async def read_body(request: web.Request, what: str = "an Anthropic Messages JSON object",
                    keep: Bodies | None = None) -> dict[str, Any]:
    """The request's JSON object, or a 4xx saying what is wrong with it. With `keep` (the
    inspector is on), the bytes read are kept there, refused ones too."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise CCRError("request body is too large", status=413, error_type="request_too_large") from None
    if keep is not None:
        keep.client = raw
    if not raw.strip():
        raise RequestError(f"the request body is empty; send {what}")
    try:
        body = jsonlib.loads(raw)
    except ValueError as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body
