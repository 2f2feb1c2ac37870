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

What `loads` refuses, on both paths, with a ValueError that says why (so every caller that
answers "not valid JSON" with a 400 covers them): nesting deeper than MAX_DEPTH arrays and
objects (deep input would otherwise end in a RecursionError in whatever walks it next), the
non-standard NaN / Infinity literals, and numbers too large for a float (`1e400`): none of them
can be written back out as JSON.
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any

__all__ = ["Json", "loads", "dumps", "dumps_str", "compact", "FAST", "MAX_DEPTH", "JSONLimitError"]

#: A parsed JSON object: the one name every module uses for request and reply bodies.
Json = dict[str, Any]

#: deepest nesting of arrays and objects `loads` accepts; real requests stay under 20
MAX_DEPTH = 200


class JSONLimitError(ValueError):
    """Valid-looking JSON that ccr refuses: too deeply nested, or a number no JSON can carry."""


def _refuse_constant(name: str) -> Any:
    raise JSONLimitError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JSONLimitError(f"the number {text[:40]} is too large")
    return value


def _std_loads(data: bytes | bytearray | str) -> Any:
    try:
        return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise _too_deep() from None


def _check_depth(value: Any, data: bytes | bytearray | str) -> Any:
    """`value` itself, unless it nests deeper than MAX_DEPTH: walked one level at a time, so
    the walk is no deeper than this frame. Texts with too few brackets to nest that deep are
    not walked (a long flat array would make a long walk)."""
    if len(data) <= 2 * MAX_DEPTH:
        return value
    opening = data.count("[") + data.count("{") if isinstance(data, str) else data.count(b"[") + data.count(b"{")
    if opening <= MAX_DEPTH:
        return value
    level = [value] if type(value) in (dict, list) else []
    for _ in range(MAX_DEPTH):
        deeper: list[Any] = []
        add = deeper.append
        for node in level:
            for child in (node.values() if node.__class__ is dict else node):
                kind = child.__class__
                if kind is dict or kind is list:  # parsers build exact dicts and lists
                    add(child)
        if not deeper:
            return value
        level = deeper
    raise _too_deep()


def _too_deep() -> JSONLimitError:
    return JSONLimitError(f"nesting too deep (more than {MAX_DEPTH} levels of arrays and objects)")


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
        return _check_depth(_std_loads(data), data)

    def dumps(value: Any) -> bytes:
        return _std_dumps(value)

    def compact(value: Any) -> str:
        return _std_compact(value)
else:
    FAST = True

    def _orjson_depth() -> int:
        """How many levels orjson serializes (254 in orjson 3.x), found once at import."""
        probe: list[Any] = []
        for depth in range(1, 4096):
            try:
                orjson.dumps(probe)
            except orjson.JSONEncodeError:
                return depth - 1
            probe = [probe]
        return 4096

    #: lists put around a value so that orjson refuses it exactly when it nests past MAX_DEPTH
    _WRAPS = _orjson_depth() - MAX_DEPTH
    _shells = threading.local()  # per thread: one chain of _WRAPS lists, its innermost slot reused

    def _shell() -> tuple[list[Any], list[Any]]:
        try:
            return _shells.outer, _shells.inner
        except AttributeError:
            inner: list[Any] = [None]
            outer = inner
            for _ in range(_WRAPS - 1):
                outer = [outer]
            _shells.outer, _shells.inner = outer, inner
            return outer, inner

    def _fits(value: Any, data: bytes | bytearray | str) -> Any:
        """`value`, unless it nests deeper than MAX_DEPTH. orjson answers at C speed (a 50 KB
        request in about 20 us, where walking it in Python took 100 or more): put inside
        `_WRAPS` more lists, it serializes only if so. The walk remains for what orjson will
        not serialize for other reasons (integers past 64 bits)."""
        if len(data) <= 2 * MAX_DEPTH:
            return value
        if _WRAPS < 1:  # pragma: no cover - an orjson that serializes less than MAX_DEPTH levels
            return _check_depth(value, data)
        outer, inner = _shell()
        inner[0] = value
        try:
            orjson.dumps(outer)
        except orjson.JSONEncodeError as exc:
            if "recursion" in str(exc).lower():
                raise _too_deep() from None
            return _check_depth(value, data)
        finally:
            inner[0] = None  # the shell must not keep the request alive
        return value

    def loads(data: bytes | bytearray | str) -> Any:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return _check_depth(_std_loads(data), data)  # big integers, lone surrogates; ValueError if invalid
        return _fits(value, data)

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
