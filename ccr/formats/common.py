"""Small mappings shared by both directions of the Anthropic edge.

The signature format of the thinking ccr signs itself, and `text_of`, are in
`ccr.transformers.hub` (shared with the transformers).
"""

from __future__ import annotations

import secrets
from typing import Any

__all__ = [
    "stop_reason",
    "usage_from_unified",
    "new_message_id",
    "reasoning_text",
]

_STOP = {
    "stop": "end_turn",
    "end_turn": "end_turn",
    "length": "max_tokens",
    "max_tokens": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "tool_use": "tool_use",
    "content_filter": "refusal",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
    "stop_sequence": "stop_sequence",
}


def stop_reason(finish_reason: Any, choice: dict[str, Any], stop_sequences: Any) -> tuple[str, str | None]:
    """Map an OpenAI finish_reason to (stop_reason, stop_sequence).

    OpenAI does not say which stop sequence ended the text; vLLM-style servers put it in
    `choice.stop_reason`, which we honour when it is one of the request's stop sequences.
    """
    matched = choice.get("stop_reason") if isinstance(choice, dict) else None
    if (finish_reason in ("stop", None) and isinstance(matched, str) and isinstance(stop_sequences, list)
            and matched in stop_sequences):
        return "stop_sequence", matched
    return _STOP.get(str(finish_reason).lower() if finish_reason else "stop", "end_turn"), None


def usage_from_unified(usage: Any) -> dict[str, int]:
    """OpenAI-style usage -> Anthropic usage. Cached prompt tokens are not input tokens twice."""
    if not isinstance(usage, dict):
        return {"input_tokens": 0, "output_tokens": 0,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if "input_tokens" in usage and "prompt_tokens" not in usage:  # already Anthropic-shaped
        return {
            "input_tokens": int(usage.get("input_tokens") or 0),
            "output_tokens": int(usage.get("output_tokens") or 0),
            "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
            "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
        }
    prompt = int(usage.get("prompt_tokens") or 0)
    details = usage.get("prompt_tokens_details")
    cached = 0
    if isinstance(details, dict):
        cached = int(details.get("cached_tokens") or 0)
    cached = cached or int(usage.get("prompt_cache_hit_tokens") or 0)  # DeepSeek
    creation = int(usage.get("cache_creation_input_tokens") or 0)
    return {
        "input_tokens": max(prompt - cached - creation, 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": cached,
    }


def reasoning_text(delta: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(text, signature, source field) of the reasoning in a message or delta, if any."""
    thinking = delta.get("thinking")
    if isinstance(thinking, dict):
        return thinking.get("content"), thinking.get("signature"), None
    for field in ("reasoning_content", "reasoning"):
        value = delta.get(field)
        if isinstance(value, str) and value:
            return value, None, field
    return None, None, None


def new_message_id(upstream_id: Any = None) -> str:
    if isinstance(upstream_id, str) and upstream_id:
        return upstream_id if upstream_id.startswith("msg_") else f"msg_{upstream_id}"
    return f"msg_{secrets.token_hex(12)}"
