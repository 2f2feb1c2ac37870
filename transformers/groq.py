"""`groq`: Groq's OpenAI-compatible API (an adjuster on top of the `openai` dialect).

- Groq rejects `cache_control` and the `$schema` key in tool parameters;
- streamed usage arrives in the last chunk under `x_groq.usage`, not `usage`
  (https://console.groq.com/docs/api-reference#chat-create): it is moved where the edge reads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from ._util import copy_body, drop_schema_keys, strip_cache_control
from .base import Context, Json, Transformer, Upstream

__all__ = ["Groq", "without_schema_key"]

_SCHEMA_KEYS = frozenset({"$schema"})


def without_schema_key(body: Json) -> None:
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and "parameters" in function:
            function["parameters"] = drop_schema_keys(function["parameters"], _SCHEMA_KEYS)


class Groq(Transformer):
    name: ClassVar[str] = "groq"

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = copy_body(up.body)
        strip_cache_control(body)
        without_schema_key(body)
        return Upstream(up.url, body, up.headers)

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        async for chunk in chunks:
            extra = chunk.get("x_groq")
            if isinstance(extra, dict) and isinstance(extra.get("usage"), dict) and not chunk.get("usage"):
                chunk["usage"] = extra["usage"]
            yield chunk
