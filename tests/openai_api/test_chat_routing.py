"""Routing, auth and failures in the middle of a stream on POST /v1/chat/completions."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import openai
import pytest

from tests.core.util import USAGE, chat_reply, chunk, json_handler
from tests.helpers import admin_headers, make_config, openai_provider, sse, start_pair
from tests.transformers.util import staged

from .util import raw_stream

MESSAGES = [{"role": "user", "content": "hi"}]


async def routed(fake_upstream, ccr_server, **top):
    """Two providers; every request's route shows in x-ccr-route."""
    a = await fake_upstream(json_handler(chat_reply("from a", usage=USAGE)))
    b = await fake_upstream(json_handler(chat_reply("from b", usage=USAGE)))
    config = make_config([openai_provider(a.url, "alpha", ["m-default"]),
                          openai_provider(b.url, "Beta", ["M-Long", "m-think"])],
                         {"default": "alpha,m-default", "longContext": "Beta,M-Long",
                          "longContextThreshold": 1000, "think": "Beta,m-think",
                          "background": "Beta,m-think"}, **top)
    return await ccr_server(config)


async def route_of(client: openai.AsyncOpenAI, **kwargs) -> str:
    kwargs.setdefault("messages", MESSAGES)
    raw = await client.chat.completions.with_raw_response.create(**kwargs)
    reply = raw.parse()
    assert reply.model == raw.headers["x-ccr-route"].split(";")[0].split(",")[1]
    return raw.headers["x-ccr-route"]


async def test_router_rules(fake_upstream, ccr_server):
    ccr = await routed(fake_upstream, ccr_server)
    long_text = "word " * 3000
    async with openai.AsyncOpenAI(base_url=ccr.url + "/v1", api_key="x", max_retries=0) as client:
        assert await route_of(client, model="gpt-4o") == "alpha,m-default; reason=default"
        assert await route_of(client, model="beta,m-long") == "Beta,M-Long; reason=explicit"
        assert await route_of(client, model="BETA,M-THINK") == "Beta,m-think; reason=explicit"
        assert await route_of(client, model="gpt-4o", reasoning_effort="low") == "Beta,m-think; reason=think"
        assert await route_of(client, model="gpt-4o", reasoning_effort="none") == "alpha,m-default; reason=default"
        assert await route_of(client, model="gpt-4o", messages=[{"role": "user", "content": long_text}]) \
            == "Beta,M-Long; reason=longContext"
        tool_heavy = [{"role": "user", "content": "go"},
                      {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                            "function": {"name": "f", "arguments": "{}"}}]},
                      {"role": "tool", "tool_call_id": "c1", "content": long_text}]
        assert await route_of(client, model="gpt-4o", messages=tool_heavy) == "Beta,M-Long; reason=longContext"
        # Claude Code's haiku rule is about Claude Code's background calls, not OpenAI clients' names
        assert await route_of(client, model="claude-3-5-haiku") == "Beta,m-think; reason=background"


async def test_subagent_tag_routes_and_is_removed(fake_upstream, ccr_server):
    up = await fake_upstream(json_handler(chat_reply("ok", usage=USAGE)))
    config = make_config([openai_provider(up.url, "p", ["m1", "m2"])], {"default": "p,m1"})
    ccr = await ccr_server(config)
    system = "You review code.<CCR-SUBAGENT-MODEL>p,m2</CCR-SUBAGENT-MODEL>"
    async with openai.AsyncOpenAI(base_url=ccr.url + "/v1", api_key="x", max_retries=0) as client:
        route = await route_of(client, model="gpt-4o", messages=[{"role": "system", "content": system}, *MESSAGES])
    assert route == "p,m2; reason=subagent"
    assert up.recorder.last["messages"][0] == {"role": "system", "content": "You review code."}


async def test_apikey_is_required(fake_upstream, ccr_server):
    ccr = await routed(fake_upstream, ccr_server, APIKEY="ccr-secret")
    async with openai.AsyncOpenAI(base_url=ccr.url + "/v1", api_key="wrong", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    # auth errors come from the shared middleware in the Anthropic shape; the SDK reads them all the same
    assert caught.value.status_code == 401 and caught.value.message.endswith("Invalid API key")
    assert caught.value.body == {"type": "authentication_error", "message": "Invalid API key"}
    async with openai.AsyncOpenAI(base_url=ccr.url + "/v1", api_key="ccr-secret", max_retries=0) as client:
        reply = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert reply.choices[0].message.content == "from a"


async def test_error_in_the_middle_of_a_stream(fake_upstream, ccr_server):
    release = asyncio.Event()
    first = sse(chunk({"role": "assistant", "content": "partial "}), done=False)
    rest = b'data: {"error": {"message": "upstream fell over", "code": 500}}\n\n'
    pair = await start_pair(fake_upstream, ccr_server, staged(first, rest, release))
    async with pair.openai() as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        seen = []
        with pytest.raises(openai.APIError) as caught:
            async for item in stream:
                seen.append(item.choices[0].delta.content)
                release.set()
    assert seen == ["partial "]
    assert "fake,gpt-test: provider error mid-stream: upstream fell over" in caught.value.message


async def test_first_text_goes_out_before_the_rest_of_its_read(fake_upstream, ccr_server):
    """Text and a failure in one upstream read: the text is written at once (not after the
    read is converted), so the failure that follows it is an error chunk on a 200 stream."""
    release = asyncio.Event()
    release.set()
    both = sse(chunk({"role": "assistant", "content": "partial"}), done=False) + \
        b'data: {"error": {"message": "upstream fell over", "code": 500}}\n\n'
    pair = await start_pair(fake_upstream, ccr_server, staged(both, b"", release))
    status, frames = await raw_stream(pair.ccr.url, {"model": "gpt-4o", "messages": MESSAGES, "stream": True})
    assert status == 200
    assert json.loads(frames[0][6:])["choices"][0]["delta"]["content"] == "partial"
    assert "upstream fell over" in json.loads(frames[-1][6:])["error"]["message"]


async def test_stream_cut_off_ends_with_an_error_chunk(fake_upstream, ccr_server):
    release = asyncio.Event()
    release.set()
    first = sse(chunk({"role": "assistant", "content": "partial"}), done=False)
    pair = await start_pair(fake_upstream, ccr_server, staged(first, b"", release))
    status, frames = await raw_stream(pair.ccr.url, {"model": "gpt-4o", "messages": MESSAGES, "stream": True})
    assert status == 200
    last = json.loads(frames[-1][6:])
    assert last["error"]["type"] == "server_error" and "no finish_reason" in last["error"]["message"]
    assert b"data: [DONE]" not in frames
    async with aiohttp.ClientSession() as session:
        async with session.get(pair.ccr.url + "/api/stats", headers=admin_headers()) as resp:
            row = (await resp.json())["models"][0]
    assert row["errors"] == {"502": 1}


async def test_unreachable_provider(ccr_server):
    config = make_config([openai_provider("http://127.0.0.1:9/v1/chat/completions", "gone", ["m"])],
                         {"default": "gone,m"})
    ccr = await ccr_server(config)
    async with openai.AsyncOpenAI(base_url=ccr.url + "/v1", api_key="x", max_retries=0) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert caught.value.status_code == 502 and "gone,m: cannot connect to 127.0.0.1:9" in caught.value.message
