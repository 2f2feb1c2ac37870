"""`customparams`: merge fixed parameters into every request body.

    ["customparams", {"enable_thinking": true, "chat_template_kwargs": {"thinking": true}}]

A key the request lacks is added; objects on both sides are merged; a value the request
already has is kept.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._util import deep_merge
from .base import Context, Json, Transformer, Upstream

__all__ = ["CustomParams"]


class CustomParams(Transformer):
    name: ClassVar[str] = "customparams"
    options_schema: ClassVar[Json | None] = {
        "type": "object", "additionalProperties": True,
        "description": "any keys: merged into the request body",
    }

    def __init__(self, **params: Any) -> None:
        self.params = params

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        return Upstream(up.url, deep_merge(up.body, self.params), up.headers)
