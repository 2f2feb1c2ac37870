"""`maxtoken`: cap max_tokens (claude-code-router's name and option).

    ["maxtoken", {"max_tokens": 8192}]   a request asking for 32000 is sent with 8192
"""

from __future__ import annotations

from typing import ClassVar

from ._options import positive_int
from .base import Context, Json, Transformer, Upstream

__all__ = ["MaxToken"]


class MaxToken(Transformer):
    name: ClassVar[str] = "maxtoken"
    options_schema: ClassVar[Json | None] = {
        "type": "object", "required": ["max_tokens"],
        "properties": {"max_tokens": {"type": "integer", "minimum": 1,
                                      "description": "the most output tokens to ask the provider for"}},
    }

    def __init__(self, *, max_tokens: int) -> None:
        self.max_tokens = positive_int("max_tokens", max_tokens)

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        asked = up.body.get("max_tokens")
        if isinstance(asked, int) and asked <= self.max_tokens:
            return up
        return up.with_body(max_tokens=self.max_tokens)
