"""Check the shape of an Anthropic Messages request before anything else looks at it.

Only what ccr relies on is checked, with messages in the style of Anthropic's own
(`messages.1.content: ...`), so a malformed request gets a clear 400 instead of a crash deep
in a transformer or a provider's puzzling reply. Unknown fields are allowed: new Claude Code
fields must never be a reason to fail.
"""

from __future__ import annotations

from typing import Any

from ccr.errors import RequestError

__all__ = ["validate_request"]

_ROLES = ("user", "assistant", "system")


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


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def validate_request(body: dict[str, Any], *, require_model: bool = True) -> None:
    """Raise RequestError (400, invalid_request_error) for a request ccr cannot serve."""
    model = body.get("model")
    if require_model and (not isinstance(model, str) or not model.strip()):
        raise _fail("model: Field required (a model name, or \"provider,model\")")
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
            raise _fail(f"messages.{i}.role: expected \"user\" or \"assistant\", got {message.get('role')!r}")
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
    for key in ("tool_choice", "thinking", "metadata"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            raise _fail(f"{key}: expected an object, got {_kind(value)}")
    for key in ("max_tokens", "top_k"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise _fail(f"{key}: expected a positive whole number, got {value!r}")
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _fail(f"{key}: expected a number, got {value!r}")
    stop = body.get("stop_sequences")
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)):
        raise _fail("stop_sequences: expected a list of strings")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _fail(f"stream: expected true or false, got {stream!r}")
