"""The `openai-responses` dialect: OpenAI's Responses API (gpt-5-codex and other models served
only there, claude-code-router #1149).

    "api_base_url": "https://api.openai.com/v1/responses"

Mapping both ways is in `_responses_request.py` and `_responses_reply.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from ccr.errors import UpstreamError

from ._responses_reply import ResponsesError, from_responses, responses_chunks
from ._responses_request import to_responses
from .base import Context, Json, Transformer, Upstream

__all__ = ["OpenAIResponses"]


class OpenAIResponses(Transformer):
    name: ClassVar[str] = "openai-responses"
    endpoint: ClassVar[str | None] = "/v1/responses"
    dialect: ClassVar[bool] = True

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        return Upstream(up.url, to_responses(up.body, ctx.model, ctx.provider.name), up.headers)

    async def response(self, body: Json, ctx: Context) -> Json:
        try:
            return from_responses(body, ctx.model, ctx.provider.name)
        except ResponsesError as exc:
            raise UpstreamError(f"{ctx.provider.name},{ctx.model}: provider error: {exc}", status=502) from None

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        async for chunk in responses_chunks(chunks, ctx.model, ctx.provider.name):
            yield chunk
