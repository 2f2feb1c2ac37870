"""Unified (OpenAI chat completions) reply -> Anthropic message.

Content order is the order Anthropic uses: thinking first, then text, then tool calls.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ccr.errors import UpstreamError
from ccr.jsonlib import Json
from ccr.transformers.hub import reasoning_signature

from .common import (
    new_message_id,
    reasoning_text,
    stop_reason,
    usage_from_unified,
)

__all__ = ["to_message", "parse_arguments", "tool_id"]


def tool_id(value: Any, seen: set[str]) -> str:
    """The upstream's tool-call id, or a fresh one when it is missing or repeated."""
    if isinstance(value, str) and value and value not in seen:
        seen.add(value)
        return value
    fresh = f"toolu_{uuid.uuid4().hex[:24]}"
    seen.add(fresh)
    return fresh


def parse_arguments(arguments: Any) -> Json:
    """Tool-call arguments as an object; a model's broken JSON is kept, not thrown away."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


def to_message(body: Json, *, model: str, provider: str, request: Json) -> Json:
    if isinstance(body.get("error"), dict | str):
        raise UpstreamError(f"{provider},{model}: provider error: {_error_text(body['error'])}",
                            status=502)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise UpstreamError(f"{provider},{model}: provider reply has no choices: "
                            f"{json.dumps(body)[:500]}", status=502)
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[Json] = []
    text, signature, field = reasoning_text(message)
    if text:
        content.append({"type": "thinking", "thinking": text,
                        "signature": signature or reasoning_signature(field or "reasoning_content", provider)})
    if isinstance(message.get("content"), str) and message["content"]:
        content.append({"type": "text", "text": message["content"]})
    elif isinstance(message.get("content"), list):  # some servers return content parts
        joined = "".join(p.get("text", "") for p in message["content"] if isinstance(p, dict))
        if joined:
            content.append({"type": "text", "text": joined})
    seen: set[str] = set()
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": tool_id(call.get("id"), seen),
                        "name": function.get("name", ""),
                        "input": parse_arguments(function.get("arguments"))})
    reason, sequence = stop_reason(choice.get("finish_reason"), choice, request.get("stop_sequences"))
    if reason == "end_turn" and seen:
        reason = "tool_use"
    return {
        "id": new_message_id(body.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage_from_unified(body.get("usage")),
    }


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or json.dumps(error))
    return str(error)
