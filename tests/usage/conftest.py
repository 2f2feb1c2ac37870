"""A fake OpenAI-compatible provider with a real output limit and context window, and ccr."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from tests.conftest import make_config, openai_provider
from tests.core.util import chat_reply, chunk
from tests.helpers import sse

USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
         "prompt_tokens_details": {"cached_tokens": 400}}


def strict_provider(max_output: int = 8192, window: int = 131072):
    """Answers like OpenAI: a 400 for max_tokens above the limit or a prompt over the window."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        asked = body.get("max_completion_tokens", body.get("max_tokens"))
        if isinstance(asked, int) and asked > max_output:
            return web.json_response({"error": {
                "message": f"max_tokens is too large: {asked}. This model supports at most "
                           f"{max_output} completion tokens, whereas you provided {asked}.",
                "type": "invalid_request_error", "param": "max_tokens", "code": "invalid_value"}},
                status=400)
        size = len(str(body.get("messages"))) // 4
        if size > window:
            return web.json_response({"error": {"message": "context_length_exceeded",
                                                "type": "invalid_request_error"}}, status=400)
        if body.get("stream"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(sse(chunk({"role": "assistant", "content": "fits"}),
                                     chunk(finish_reason="stop"), chunk(usage=USAGE, choices=False)))
            return response
        return web.json_response(chat_reply("fits", usage=USAGE))

    return handler


@pytest.fixture
async def strict(fake_upstream, ccr_server):
    """`up, ccr = await strict(model_info={...}, models=[...], router={...}, **top)`."""

    async def start(*, model_info: dict[str, Any] | None = None, models: list[str] | None = None,
                    router: dict[str, Any] | None = None, extra: list[dict[str, Any]] | None = None,
                    provider: dict[str, Any] | None = None,
                    max_output: int = 8192, window: int = 131072, **top: Any) -> Any:
        up = await fake_upstream(strict_provider(max_output, window))
        spec = openai_provider(up.url, models=models or ["small-model"])
        if model_info is not None:
            spec["model_info"] = model_info
        spec.update(provider or {})
        config = make_config([spec, *(extra or [])], router or {"default": f"fake,{spec['models'][0]}"},
                             **top)
        return up, await ccr_server(config)

    return start
