"""Check the shape of an Anthropic Messages request before anything else looks at it.

Only what ccr relies on is checked, with messages in the style of Anthropic's own
(`messages.1.content: ...`), so a malformed request gets a clear 400 instead of a crash deep
in a transformer or a provider's puzzling reply. Unknown fields are allowed: new Claude Code
fields must never be a reason to fail.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ccr.errors import RequestError

__all__ = ["validate_request", "check_model_name", "check_number", "check_tool_choice", "show"]

_ROLES = ("user", "assistant", "system")
_TOOL_CHOICES = ("auto", "any", "tool", "none")
# C0 and C1 controls and DEL: never part of a model name, and never allowed in the
# `x-ccr-route` response header the name ends up in (aiohttp refuses it after the call).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_model_name(model: str, where: str = "model") -> None:
    """Refuse control characters (a NUL, a newline...) in a model name."""
    found = _CONTROL.search(model)
    if found:
        raise RequestError(f"{where}: control character U+{ord(found.group()):04X} at position "
                           f"{found.start()} is not allowed in a model name")


def check_number(body: dict[str, Any], key: str) -> None:
    """`key`, when present, must be a finite number (NaN would reach the provider as bad JSON)."""
    value = body.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"{key}: expected a number, got {show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"{key}: expected a finite number, got {show(value)}")


def check_tool_choice(value: Any) -> None:
    """Anthropic's tool_choice: {"type": "auto"|"any"|"none"} or {"type": "tool", "name": str}."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise _fail(f"tool_choice: expected an object, got {_kind(value)}")
    kind = value.get("type")
    if not isinstance(kind, str):  # new types may come: only the shape is checked
        raise _fail(f"tool_choice.type: expected one of {', '.join(_TOOL_CHOICES)}, got {show(kind)}")
    if kind == "tool" and (not isinstance(value.get("name"), str) or not value["name"]):
        raise _fail(f"tool_choice.name: expected the name of a tool (a string), got {show(value.get('name'))}")


def _fail(message: str) -> RequestError:
    return RequestError(message)


def _blocks(value: Any, where: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise _fail(f"{where}: expected a string or a list of content blocks, got {_kind(value)}")
    for i, block in enumerate(value):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _fail(f"{where}.{i}: expected a content block object with a `type`, got {_kind(block)}")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            raise _fail(f"{where}.{i}.text: Field required (a string)")
        if block["type"] == "tool_result":
            if not isinstance(block.get("tool_use_id"), str):
                raise _fail(f"{where}.{i}.tool_use_id: Field required (a string)")
            if block.get("content") is not None:
                _blocks(block["content"], f"{where}.{i}.content")
        if block["type"] == "tool_use" and not isinstance(block.get("name"), str):
            raise _fail(f"{where}.{i}.name: Field required (a string)")


def show(value: Any) -> str:
    """A client's value for an error message, cut short: the message must stay small."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def validate_request(body: dict[str, Any], *, require_model: bool = True) -> None:
    """Raise RequestError (400, invalid_request_error) for a request ccr cannot serve."""
    model = body.get("model")
    if require_model and (not isinstance(model, str) or not model.strip()):
        raise _fail("model: Field required (a model name, or \"provider,model\")")
    if isinstance(model, str):
        check_model_name(model)
    messages = body.get("messages")
    if messages is None:
        raise _fail("messages: Field required (a list of {role, content} objects)")
    if not isinstance(messages, list):
        raise _fail(f"messages: expected a list of {{role, content}} objects, got {_kind(messages)}")
    if not messages:
        raise _fail("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _fail(f"messages.{i}: expected an object with role and content, got {_kind(message)}")
        if message.get("role") not in _ROLES:
            raise _fail(f"messages.{i}.role: expected \"user\" or \"assistant\", got {show(message.get('role'))}")
        if "content" not in message:
            raise _fail(f"messages.{i}.content: Field required")
        _blocks(message["content"], f"messages.{i}.content")
    system = body.get("system")
    if system is not None:
        _blocks(system, "system")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _fail(f"tools: expected a list of tools, got {_kind(tools)}")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
                raise _fail(f"tools.{i}: expected a tool object with a `name`")
    check_tool_choice(body.get("tool_choice"))
    for key in ("thinking", "metadata"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            raise _fail(f"{key}: expected an object, got {_kind(value)}")
    for key in ("max_tokens", "top_k"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise _fail(f"{key}: expected a positive whole number, got {show(value)}")
    for key in ("temperature", "top_p"):
        check_number(body, key)
    stop = body.get("stop_sequences")
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)):
        raise _fail("stop_sequences: expected a list of strings")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _fail(f"stream: expected true or false, got {show(stream)}")
