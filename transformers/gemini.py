"""The Gemini dialect: Google AI Studio's `generateContent` API.

    "api_base_url": "https://generativelanguage.googleapis.com/v1beta/models/"
    POST <base><model>:generateContent                 (whole reply)
    POST <base><model>:streamGenerateContent?alt=sse   (stream)
    x-goog-api-key: <api_key>                          (no Authorization header)

The wire mapping is in `_gemini_request.py` and `_gemini_reply.py`; this class adds the URL
and the credentials. `vertex-gemini` (vertex.py) reuses all of it with Vertex URLs and OAuth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from ccr.errors import UpstreamError

from ._gemini_reply import GeminiError, from_gemini, gemini_chunks
from ._gemini_request import to_gemini
from .base import Context, Json, Transformer, Upstream

__all__ = ["Gemini", "gemini_url"]


def gemini_url(base: str, model: str, stream: bool) -> str:
    base = base.split("?", 1)[0]
    if not base.rstrip("/").endswith("/models"):
        base = base.rstrip("/") + "/models"
    base = base.rstrip("/") + "/"
    return f"{base}{model}:streamGenerateContent?alt=sse" if stream else f"{base}{model}:generateContent"


class Gemini(Transformer):
    name: ClassVar[str] = "gemini"
    endpoint: ClassVar[str | None] = "/v1beta/models/:modelAndAction"
    dialect: ClassVar[bool] = True

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        stream = bool(up.body.get("stream"))
        body = to_gemini(up.body, ctx.model)
        url = await self.url(up, ctx, stream)
        headers = {k: v for k, v in up.headers.items() if k.lower() != "authorization"}
        headers.update(await self.auth_headers(ctx))
        return Upstream(url, body, headers)

    async def url(self, up: Upstream, ctx: Context, stream: bool) -> str:
        return gemini_url(up.url, ctx.model, stream)

    async def auth_headers(self, ctx: Context) -> dict[str, str]:
        return {"x-goog-api-key": ctx.api_key} if ctx.api_key else {}

    async def response(self, body: Json, ctx: Context) -> Json:
        try:
            return from_gemini(body, ctx.model)
        except GeminiError as exc:
            raise UpstreamError(f"{ctx.provider.name},{ctx.model}: {exc}", status=502) from None

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        async for chunk in gemini_chunks(chunks, ctx.model):
            yield chunk
