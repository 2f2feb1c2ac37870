"""Body-editing helpers shared by several transformers (copies, cache_control, schemas, merges).

The vocabulary ccr shares with the transformers (Json, signatures, effort levels, text_of)
is in `hub.py`.
"""

from __future__ import annotations

import copy
from typing import Any

from .hub import Json

__all__ = ["copy_body", "strip_cache_control", "strip_part", "drop_schema_keys", "deep_merge"]


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


def strip_part(part: Any, keys: tuple[str, ...] = ("cache_control", "media_type")) -> Any:
    """A content part without `keys` (the same object when it has none of them)."""
    if isinstance(part, dict) and any(k in part for k in keys):
        part = {k: v for k, v in part.items() if k not in keys}
    return part


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
