"""Token usage reaches the stats whichever way the reply travelled (JSON, stream, or JSON replayed
as a stream), so nothing is lost when a provider ignores the stream flag."""

from __future__ import annotations

import aiohttp
import anthropic
import pytest
from aiohttp import web

from tests.helpers import admin_headers, make_config, openai_provider

REPLY = {"id": "c1", "object": "chat.completion", "model": "gpt-test",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 40, "completion_tokens": 7,
                   "prompt_tokens_details": {"cached_tokens": 10}}}


@pytest.mark.parametrize("stream", [True, False], ids=["stream-client", "json-client"])
async def test_json_reply_usage_is_recorded(fake_upstream, ccr_server, stream):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(REPLY)  # a provider that ignores "stream": true

    up = await fake_upstream(handler)
    ccr = await ccr_server(make_config([openai_provider(up.url)], {"default": "fake,gpt-test"}))
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        if stream:
            async with client.messages.stream(model="claude-sonnet-5", max_tokens=10,
                                              messages=[{"role": "user", "content": "hi"}]) as s:
                message = await s.get_final_message()
        else:
            message = await client.messages.create(model="claude-sonnet-5", max_tokens=10,
                                                   messages=[{"role": "user", "content": "hi"}])
    assert (message.usage.input_tokens, message.usage.output_tokens) == (30, 7)
    async with aiohttp.ClientSession() as http, http.get(f"{ccr.url}/api/stats", headers=admin_headers()) as resp:
        report = await resp.json()
    (row,) = report["models"]
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (30, 7, 10)
