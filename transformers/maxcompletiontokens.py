"""`maxcompletiontokens`: send `max_completion_tokens` instead of `max_tokens`.

OpenAI's reasoning models (o-series, gpt-5) reject `max_tokens`. Option `max_completion_tokens`
also caps the value.
"""

from __future__ import annotations

from typing import ClassVar

from ._options import optional_positive_int
from .base import Context, Json, Transformer, Upstream

__all__ = ["MaxCompletionTokens"]


class MaxCompletionTokens(Transformer):
    name: ClassVar[str] = "maxcompletiontokens"
    options_schema: ClassVar[Json | None] = {
        "type": "object",
        "properties": {"max_completion_tokens": {"type": "integer", "minimum": 1,
                                                 "description": "optional cap"}},
    }

    def __init__(self, *, max_completion_tokens: int | None = None) -> None:
        self.cap = optional_positive_int("max_completion_tokens", max_completion_tokens)

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        asked = up.body.get("max_tokens", up.body.get("max_completion_tokens"))
        if isinstance(asked, int) and self.cap is not None:
            asked = min(asked, self.cap)
        elif asked is None:
            asked = self.cap
        return up.with_body(max_tokens=None, max_completion_tokens=asked)
