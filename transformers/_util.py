"""Helpers shared by several transformers: copying messages, cache_control, packed signatures.

Packed signatures: Gemini's `thoughtSignature` and OpenRouter's `reasoning_details` belong to a
tool call, but the Anthropic client keeps only the tool_use block's id verbatim across turns (a
thinking block may have closed before the signature arrived). So the signature rides inside
the id, base64url-encoded, and the dialect that put it there takes it out again:

    pack_tool_id("toolu_ab12", "sig==")  -> "toolu_ab12__ccrsig_c2lnPT0"
    unpack_tool_id(...)                  -> ("toolu_ab12", "sig==")

Thinking-block signatures that ccr makes all start with `ccr1:` (see ccr/formats/common.py), so
the Anthropic-native path drops them instead of sending Anthropic a signature it rejects;
the dialects use `ccr1:~gemini:`, `ccr1:~openrouter:` and `ccr1:~responses:`.
"""

from __future__ import annotations

import base64
import copy
import uuid
from typing import Any

from ccr.formats.common import text_of

__all__ = [
    "Json", "b64url", "un_b64url", "pack_tool_id", "unpack_tool_id", "new_tool_id",
    "strip_cache_control", "copy_body", "text_of", "drop_schema_keys", "deep_merge",
]

Json = dict[str, Any]
_SIG = "__ccrsig_"


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def un_b64url(data: str) -> str:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()


def new_tool_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def pack_tool_id(tool_id: str, payload: str | None) -> str:
    return f"{tool_id}{_SIG}{b64url(payload)}" if payload else tool_id


def unpack_tool_id(tool_id: Any) -> tuple[str, str | None]:
    """(the provider's id, the payload packed into it or None)."""
    if not isinstance(tool_id, str) or _SIG not in tool_id:
        return (tool_id if isinstance(tool_id, str) else ""), None
    base, _, data = tool_id.partition(_SIG)
    try:
        return base, un_b64url(data)
    except ValueError:
        return base, None


def copy_body(body: Json) -> Json:
    """A deep copy, so a step can edit nested messages without touching the caller's body."""
    return copy.deepcopy(body)


def strip_cache_control(body: Json) -> None:
    """Remove cache_control from messages and their parts (in place, on a copy)."""
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        message.pop("cache_control", None)
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    part.pop("cache_control", None)
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            tool.pop("cache_control", None)


def drop_schema_keys(schema: Any, keys: frozenset[str]) -> Any:
    """A copy of a JSON schema without `keys` at any depth (e.g. `$schema`)."""
    if isinstance(schema, dict):
        return {k: drop_schema_keys(v, keys) for k, v in schema.items() if k not in keys}
    if isinstance(schema, list):
        return [drop_schema_keys(v, keys) for v in schema]
    return schema


def deep_merge(base: Json, extra: Json) -> Json:
    """`extra`'s keys added where `base` lacks them; objects on both sides merged the same way.

    Values already in `base` win: a client's explicit setting is not overridden by config.
    """
    out = dict(base)
    for key, value in extra.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = deep_merge(out[key], value)
    return out
