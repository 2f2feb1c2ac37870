"""JSON on the hot path: orjson when installed (the `fast` extra), the standard library otherwise.

    loads(b'{"a": 1}')          # bytes or str -> object
    dumps(obj)                  # -> compact UTF-8 bytes, safe to put on one SSE `data:` line

Output is compact (no spaces) UTF-8. U+0085, U+2028 and U+2029 are always written as \\u
escapes, never raw: clients that split lines with `str.splitlines()` (httpx `iter_lines`)
would otherwise cut an event in two. Every other character is written as itself, as the
Anthropic API does. Values orjson refuses to write (integers past 64 bits, non-string keys) or
to read (lone surrogates) fall back to the standard library, so both paths accept the same
inputs. One difference remains: orjson reads integer literals beyond 64 bits as floats (still
more exact than claude-code-router, whose JSON.parse rounds beyond 53 bits).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Json", "loads", "dumps", "dumps_str", "compact", "FAST"]

#: A parsed JSON object: the one name every module uses for request and reply bodies.
Json = dict[str, Any]

_LINE_BREAKS = ((b"\xc2\x85", b"\\u0085"), (b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def _escape_line_breaks(data: bytes) -> bytes:
    if data.isascii():  # the common case, checked in one fast pass
        return data
    for raw, escaped in _LINE_BREAKS:
        if raw in data:
            data = data.replace(raw, escaped)
    return data


def _std_dumps(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        return _escape_line_breaks(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: only the ASCII form is valid UTF-8
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def _std_compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


try:
    import orjson
except ImportError:  # pragma: no cover - exercised where the fast extra is not installed
    FAST = False

    def loads(data: bytes | bytearray | str) -> Any:
        return json.loads(data)

    def dumps(value: Any) -> bytes:
        return _std_dumps(value)

    def compact(value: Any) -> str:
        return _std_compact(value)
else:
    FAST = True

    def loads(data: bytes | bytearray | str) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return json.loads(data)  # big integers, lone surrogates; raises ValueError if invalid

    def dumps(value: Any) -> bytes:
        try:
            data = orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError: big integers, non-string keys, subclasses
            return _std_dumps(value)
        return data if data.isascii() else _escape_line_breaks(data)  # one call less per event

    def compact(value: Any) -> str:
        try:
            return orjson.dumps(value).decode("utf-8")
        except TypeError:
            return _std_compact(value)


def dumps_str(value: Any) -> str:
    return dumps(value).decode("utf-8")


compact.__doc__ = """Compact JSON text as `json.dumps(value, separators=(",", ":"), ensure_ascii=False)`
writes it, U+2028 and all (for token counting, not for the wire)."""
