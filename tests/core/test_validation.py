"""Malformed requests get a clear 400 in the Anthropic error shape and never reach a provider."""

from __future__ import annotations

import json

import aiohttp
import pytest

from .util import raw_post

OK = {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}

# (id, body, message part)
BAD = [
    ("no-model", {k: v for k, v in OK.items() if k != "model"}, "model: Field required"),
    ("no-messages", {"model": "m", "max_tokens": 5}, "messages: Field required"),
    ("messages-not-list", {**OK, "messages": "hi"}, "messages: expected a list"),
    ("messages-empty", {**OK, "messages": []}, "at least one message"),
    ("message-not-object", {**OK, "messages": ["hi"]}, "messages.0: expected an object"),
    ("bad-role", {**OK, "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ("no-content", {**OK, "messages": [{"role": "user"}]}, "messages.0.content: Field required"),
    ("content-number", {**OK, "messages": [{"role": "user", "content": 5}]}, "messages.0.content: expected a string or a list"),
    ("block-without-type", {**OK, "messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages.0.content.0"),
    ("text-block-without-text", {**OK, "messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages.0.content.0.text"),
    ("tool-result-without-id", {**OK, "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]},
     "tool_use_id"),
    ("system-number", {**OK, "system": 3}, "system: expected a string or a list"),
    ("tools-object", {**OK, "tools": {"name": "x"}}, "tools: expected a list"),
    ("tool-without-name", {**OK, "tools": [{"input_schema": {}}]}, "tools.0"),
    ("max-tokens-text", {**OK, "max_tokens": "many"}, "max_tokens: expected a positive whole number"),
    ("temperature-text", {**OK, "temperature": "hot"}, "temperature: expected a number"),
    ("stop-sequences-string", {**OK, "stop_sequences": "END"}, "stop_sequences"),
    ("stream-string", {**OK, "stream": "yes"}, "stream: expected true or false"),
    ("thinking-string", {**OK, "thinking": "on"}, "thinking: expected an object"),
]


@pytest.mark.parametrize("body,part", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_request(proxy, body, part):
    pair = await proxy()
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", body)
    error = json.loads(raw)
    assert status == 400 and error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error" and part in error["error"]["message"]
    assert pair.up.recorder.requests == []


@pytest.mark.parametrize("raw,part", [(b"", "empty"), (b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object")],
                         ids=["empty", "not-json", "array"])
async def test_bad_body(proxy, raw, part):
    pair = await proxy()
    async with aiohttp.ClientSession() as session:
        async with session.post(pair.ccr.url + "/v1/messages", data=raw,
                                headers={"Content-Type": "application/json"}) as resp:
            error = await resp.json()
    assert resp.status == 400 and part in error["error"]["message"]


async def test_unknown_fields_are_fine(proxy):
    pair = await proxy()
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", {
        **OK, "speed": "fast", "container": None, "mcp_servers": [], "inference_geo": "eu",
        "messages": [{"role": "user", "content": [{"type": "brand_new_block", "x": 1}, {"type": "text", "text": "hi"}]}]})
    assert status == 200, raw
    assert pair.sent["messages"] == [{"role": "user", "content": "hi"}]


async def test_not_found_and_method(proxy):
    pair = await proxy()
    async with aiohttp.ClientSession() as session:
        async with session.get(pair.ccr.url + "/v1/nothing") as resp:
            body = await resp.json()
            assert resp.status == 404 and body["error"]["type"] == "not_found_error"
        async with session.get(pair.ccr.url + "/v1/messages") as resp:
            body = await resp.json()
            assert resp.status == 405 and body["type"] == "error"
