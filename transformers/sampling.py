"""`sampling`: fix sampling parameters for a model, whatever the client sent.

    ["sampling", {"temperature": 0.6, "top_p": 0.95, "max_tokens": 16384}]

`max_tokens` only lowers the request's value; the others replace it. `top_k` and
`repetition_penalty` are sent as extra fields (vLLM, SGLang and most open-model hosts take them).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._options import number, optional_positive_int
from .base import Context, Json, Transformer, Upstream

__all__ = ["Sampling"]


class Sampling(Transformer):
    name: ClassVar[str] = "sampling"
    options_schema: ClassVar[Json | None] = {
        "type": "object",
        "properties": {
            "max_tokens": {"type": "integer", "minimum": 1},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "top_k": {"type": "integer", "minimum": 1},
            "repetition_penalty": {"type": "number", "minimum": 0},
        },
    }

    def __init__(self, *, max_tokens: int | None = None, temperature: float | None = None,
                 top_p: float | None = None, top_k: int | None = None,
                 repetition_penalty: float | None = None) -> None:
        self.max_tokens = optional_positive_int("max_tokens", max_tokens)
        self.fixed: dict[str, Any] = {k: v for k, v in {
            "temperature": number("temperature", temperature, 0, 2),
            "top_p": number("top_p", top_p, 0, 1),
            "top_k": optional_positive_int("top_k", top_k),
            "repetition_penalty": number("repetition_penalty", repetition_penalty, 0),
        }.items() if v is not None}

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        changes = dict(self.fixed)
        asked = up.body.get("max_tokens")
        if self.max_tokens is not None and not (isinstance(asked, int) and asked <= self.max_tokens):
            changes["max_tokens"] = self.max_tokens
        return up.with_body(**changes) if changes else up
