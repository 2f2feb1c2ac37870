"""Tolerant parsing of a model's tool-call arguments: JSON, then JSON5, then repair, else {}.

    parse_tool_arguments("{'path': 'a.py',}")   -> {"path": "a.py"}       (JSON5)
    parse_tool_arguments('{"cmd": "ls')         -> {"cmd": "ls"}          (repaired)
    parse_tool_arguments('```json\n{"a":1}\n```')-> {"a": 1}              (fence removed)
"""

from __future__ import annotations

import json
import re
from typing import Any

import json5

__all__ = ["parse_tool_arguments", "repair_json"]

_FENCE = re.compile(r"^\s*```[a-zA-Z0-9]*\s*\n?(.*?)\n?\s*```\s*$", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _as_object(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def parse_tool_arguments(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text.strip():
        return {}
    for attempt in (_json, _json5, lambda t: _json5(repair_json(t))):
        try:
            value = _as_object(attempt(text))
        except (ValueError, RecursionError):
            continue
        if value is not None:
            return value
    return {}


def _json(text: str) -> Any:
    return json.loads(text)


def _json5(text: str) -> Any:
    return json5.loads(text)


def repair_json(text: str) -> str:
    """Fix what models commonly break: code fences, prose around the object, trailing commas,
    and a cut-off end (open strings, arrays and objects are closed)."""
    match = _FENCE.match(text)
    if match:
        text = match.group(1)
    start = text.find("{")
    if start > 0:
        text = text[start:]
    text = _TRAILING_COMMA.sub(r"\1", text.strip())
    closers: list[str] = []
    quote: str | None = None
    escaped = False
    end = len(text)
    for i, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]":
            if closers and closers[-1] == char:
                closers.pop()
            if not closers:
                end = i + 1
                break
    text = text[:end]
    if quote:
        text += quote
    text = re.sub(r"[,:]\s*$", "", text.rstrip())
    return text + "".join(reversed(closers))
