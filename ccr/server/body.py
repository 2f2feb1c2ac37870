"""Read a request body within MAX_BODY_MB, as JSON or text, or fail with a 4xx that says why.

    body = await read_json(request, "an Anthropic Messages request")   # -> dict
    data = await read_json(request, "a task", object_only=False)        # -> any JSON value
    text = await read_text(request, "a YAML workflow")                  # -> str

Every front door reads its body here, so the limits hold everywhere: the size (413
`request_too_large`, checked against Content-Length before a byte is read, then while
reading), the charset (UTF-8 unless the client names another one Python knows), and what
`jsonlib.loads` refuses (nesting deeper than 200 levels, NaN, Infinity, 1e400).
"""

from __future__ import annotations

import asyncio
import codecs
from typing import Any

from aiohttp import web

from ccr import jsonlib
from ccr.config.limits import DEFAULT_MAX_BODY_MB
from ccr.errors import CCRError, RequestError
from ccr.proxy.records import Bodies
from ccr.server.keys import RUNTIME

__all__ = ["read_bytes", "read_text", "read_json", "body_limit"]
_UTF8 = ("utf-8", "utf8", "us-ascii", "ascii")


def body_limit(request: web.Request) -> int:
    """The MAX_BODY_MB of the config this request is served with, in bytes."""
    runtime = request.app.get(RUNTIME)
    return runtime.max_body_bytes if runtime is not None else DEFAULT_MAX_BODY_MB * 1024 * 1024


def _too_large(limit: int) -> CCRError:
    return CCRError(f"the request body is larger than {limit // (1024 * 1024)} MB (MAX_BODY_MB in the "
                    "ccr config)", status=413, error_type="request_too_large")


async def read_bytes(request: web.Request) -> bytes:
    """The whole body, refused with 413 as soon as it is known to pass the limit."""
    limit = body_limit(request)
    length = request.content_length
    if length is not None:
        if length > limit:
            raise _too_large(limit)
        if length == 0:
            return b""
        try:
            return await request.content.readexactly(length)  # the common case: one call
        except asyncio.IncompleteReadError as exc:
            raise RequestError(f"the request body ended after {len(exc.partial)} of the {length} bytes "
                               "its Content-Length announced") from None
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _charset(request: web.Request) -> str:
    if "charset" not in request.headers.get("Content-Type", "").lower():
        return "utf-8"  # the common case, without parsing the header
    charset = request.charset
    if charset is None:
        return "utf-8"
    charset = charset.strip().lower()
    if charset in _UTF8:
        return charset
    try:
        return codecs.lookup(charset).name
    except LookupError:
        raise RequestError(f"Content-Type names an unknown charset {charset[:40]!r}; send UTF-8") from None


def _decode(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except UnicodeDecodeError as exc:
        raise RequestError(f"the request body is not valid {charset.upper()}: byte "
                           f"0x{raw[exc.start]:02x} at offset {exc.start}") from None


async def read_text(request: web.Request, what: str) -> str:
    """The body as text in its declared charset (UTF-8 by default); empty bodies are refused."""
    charset = _charset(request)
    text = _decode(await read_bytes(request), charset)
    if not text.strip():
        raise RequestError(f"the request body is empty; send {what}")
    return text


async def read_json(request: web.Request, what: str, *, object_only: bool = True,
                    keep: Bodies | None = None) -> Any:
    """The body parsed as JSON: a dict (unless `object_only` is false) or a 400 saying what is
    wrong. With `keep` (the request inspector is on), the bytes read are kept there, refused
    ones too."""
    charset = _charset(request)
    raw = await read_bytes(request)
    if keep is not None:
        keep.client = raw
    if not raw.strip():
        raise RequestError(f"the request body is empty; send {what} as a JSON object")
    data: bytes | str = raw if charset in _UTF8 else _decode(raw, charset)
    try:
        value = jsonlib.loads(data)
    except ValueError as exc:
        if isinstance(data, bytes):
            _decode(data, "utf-8")  # name the bad byte when that is what is wrong
        raise RequestError(f"the request body is not valid JSON: {_short(exc)}") from None
    if object_only and not isinstance(value, dict):
        raise RequestError(f"the request body must be a JSON object ({what})")
    return value


def _short(exc: ValueError) -> str:
    return str(exc)[:200]
