"""Provider options: a list of api keys rotated per request with a cool-down for refused keys,
and extra headers (User-Agent included), end to end through ccr."""

from __future__ import annotations

import anthropic
import pytest
from aiohttp import web

from .util import chat, create_message, setup

HI = [{"role": "user", "content": "hi"}]


def keyed(refused: set[str]):
    async def handler(request: web.Request) -> web.Response:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if key in refused:
            return web.json_response({"error": {"message": "Rate limit reached", "type": "rate_limit"}},
                                     status=429, headers={"Retry-After": "30"})
        return web.json_response(chat(f"served by {key}"))
    return handler


async def test_keys_rotate_and_a_refused_key_rests(fake_upstream, ccr_server):
    refused = {"key-b"}
    pair = await setup(fake_upstream, ccr_server, keyed(refused),
                       provider={"api_key": ["key-a", "key-b", "key-c"]})
    used = []
    for _ in range(3):
        try:
            await create_message(pair, messages=HI)
        except anthropic.RateLimitError as exc:
            assert "Rate limit reached" in exc.body["error"]["message"]
            assert "key-b" not in exc.body["error"]["message"]
        used.append(pair.up.recorder.headers[-1]["Authorization"])
    assert used == ["Bearer key-a", "Bearer key-b", "Bearer key-c"], "one key per request, in turn"
    refused.clear()
    later = []
    for _ in range(4):
        await create_message(pair, messages=HI)
        later.append(pair.up.recorder.headers[-1]["Authorization"])
    assert "Bearer key-b" not in later, "the refused key rests for its Retry-After"
    assert later == ["Bearer key-a", "Bearer key-c", "Bearer key-a", "Bearer key-c"]


async def test_all_keys_refused_still_tries(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, keyed({"key-a", "key-b"}),
                       provider={"api_key": ["key-a", "key-b"]})
    for _ in range(3):
        with pytest.raises(anthropic.RateLimitError):
            await create_message(pair, messages=HI)
    assert len(pair.up.recorder.requests) == 3


async def test_extra_headers_and_user_agent(fake_upstream, ccr_server):
    headers = {"User-Agent": "claude-cli/2.1.330 (external, cli)", "HTTP-Referer": "https://example.dev",
               "X-Title": "ccr"}
    pair = await setup(fake_upstream, ccr_server, keyed(set()), provider={"headers": headers})
    async with pair.client() as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=10, messages=HI,
                                     extra_headers={"User-Agent": "client-agent/1"})
    got = pair.up.recorder.headers[-1]
    assert got["User-Agent"] == "claude-cli/2.1.330 (external, cli)"
    assert got["HTTP-Referer"] == "https://example.dev" and got["X-Title"] == "ccr"
    assert got["Authorization"] == "Bearer sk-upstream-secret"


async def test_headers_override_a_dialect_header(fake_upstream, ccr_server):
    async def gemini(request: web.Request) -> web.Response:
        return web.json_response({"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]},
                                                   "finishReason": "STOP"}]})
    pair = await setup(fake_upstream, ccr_server, gemini, use=["gemini"], model="gemini-2.5-flash",
                       path="/v1beta/models/", provider={"headers": {"x-goog-api-key": "from-headers",
                                                                     "User-Agent": "my-agent"}})
    await create_message(pair, messages=HI)
    got = pair.up.recorder.headers[-1]
    assert got["x-goog-api-key"] == "from-headers" and got["User-Agent"] == "my-agent"
