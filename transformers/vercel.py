"""The Vercel AI Gateway dialect: OpenRouter's conventions at https://ai-gateway.vercel.sh/v1.

    {"name": "vercel", "api_base_url": "https://ai-gateway.vercel.sh/v1/chat/completions",
     "models": ["anthropic/claude-sonnet-4.5"], "transformer": {"use": ["vercel"]}}

Like `openrouter`: options merged into the body (e.g. `providerOptions` for gateway routing),
`reasoning` and `reasoning_details` round trips, cache_control kept for Anthropic models.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Json
from .openrouter import OpenRouter

__all__ = ["Vercel"]


class Vercel(OpenRouter):
    name: ClassVar[str] = "vercel"
    options_schema: ClassVar[Json | None] = {
        "type": "object", "additionalProperties": True,
        "properties": {"providerOptions": {"type": "object",
                                           "description": 'gateway routing, e.g. {"gateway": {"order": ["bedrock"]}}'}},
        "description": "every key is merged into the request body",
    }

    def __init__(self, **params: Any) -> None:
        if "providerOptions" in params and not isinstance(params["providerOptions"], dict):
            raise ValueError('option "providerOptions" must be an object')
        super().__init__(**params)
