"""The long-context rule tokenizes only when the request's byte length could pass the threshold:
every cl100k_base token stands for at least one byte, so the byte length bounds the count."""

from __future__ import annotations

import anthropic
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from ccr.proxy.tokens import TokenCounter
from ccr.server.keys import RUNTIME
from tests.helpers import make_config, openai_provider

COUNTER = TokenCounter()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=300), min_size=1, max_size=6))
def test_the_byte_bound_is_never_below_the_count(texts: list[str]) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": t} for t in texts]}],
            "system": texts[0], "tools": [{"name": "T", "description": texts[-1], "input_schema": {"x": texts[0]}}]}
    assert TokenCounter.at_most(body, 10**9) >= COUNTER.request(body)


async def _route(fake_upstream, ccr_server, threshold: int, text: str):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"id": "c", "object": "chat.completion", "model": "m", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}})

    up = await fake_upstream(handler)
    config = make_config([openai_provider(up.url, "small", ["s"]), openai_provider(up.url, "big", ["b"])],
                         {"default": "small,s", "longContext": "big,b", "longContextThreshold": threshold})
    ccr = await ccr_server(config)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        raw = await client.messages.with_raw_response.create(
            model="claude-sonnet-5", max_tokens=5, messages=[{"role": "user", "content": text}])
    return raw.headers["x-ccr-route"], ccr.app[RUNTIME].router.counter


async def test_a_request_shorter_than_the_threshold_is_not_tokenized(fake_upstream, ccr_server):
    route, counter = await _route(fake_upstream, ccr_server, 1000, "hello " * 100)  # 600 bytes
    assert route.startswith("small,s") and counter.encoded == 0


async def test_a_longer_request_is_counted_exactly(fake_upstream, ccr_server):
    # 1,500 bytes but about 300 tokens: the bound passes 1,000, the exact count does not
    route, counter = await _route(fake_upstream, ccr_server, 1000, "hello " * 250)
    assert route.startswith("small,s") and counter.encoded == 1
    route, counter = await _route(fake_upstream, ccr_server, 1000, "zq7 " * 1200)  # over 1,000 tokens
    assert route.startswith("big,b; reason=longContext")
