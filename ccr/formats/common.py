"""Small mappings shared by both directions of the Anthropic edge."""

from __future__ import annotations

import secrets
from typing import Any

__all__ = [
    "stop_reason",
    "usage_from_unified",
    "reasoning_signature",
    "signature_field",
    "new_message_id",
    "reasoning_text",
    "drop_ccr_thinking",
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


# Thinking that ccr built from a provider's reasoning field carries a signature naming that
# field and provider, so the next turn can hand it back the way that provider wants it
# (DeepSeek rejects tool-call turns whose reasoning_content is missing) and to no one else.
_SIG_PREFIX = "ccr1:"


def reasoning_signature(field: str, provider: str) -> str:
    return f"{_SIG_PREFIX}{field}:{provider}"


def signature_field(signature: Any, provider: str) -> str | None:
    """The reasoning field to send thinking back in, if ccr made it for this provider."""
    if not isinstance(signature, str) or not signature.startswith(_SIG_PREFIX):
        return None
    field, _, origin = signature[len(_SIG_PREFIX):].partition(":")
    return field if origin == provider else None


def drop_ccr_thinking(messages: list[Any]) -> list[Any]:
    """The messages without thinking blocks that carry a ccr signature (same list if none)."""
    def ours(block: Any) -> bool:
        return (isinstance(block, dict) and block.get("type") == "thinking"
                and isinstance(block.get("signature"), str) and block["signature"].startswith(_SIG_PREFIX))

    if not any(isinstance(m, dict) and isinstance(m.get("content"), list) and any(map(ours, m["content"]))
               for m in messages):
        return messages
    return [{**m, "content": [b for b in m["content"] if not ours(b)]}
            if isinstance(m, dict) and isinstance(m.get("content"), list) else m for m in messages]


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


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the `text` parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content
                         if isinstance(p, dict) and p.get("type") == "text" and p.get("text"))
    return ""
