"""POST /v1/chat/completions with the official `openai` SDK, through ccr, to an OpenAI-compatible
fake provider: JSON and streams, tool calls both ways, reasoning, usage, request mapping."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.core.util import USAGE, assert_openai_request, chat_reply, chunk, json_handler, tool_call_delta
from tests.helpers import sse, start_pair

from .util import raw_stream, stats

MESSAGES = [{"role": "developer", "content": "Be terse."}, {"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather of a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


async def test_json_reply_maps_request_and_reply(fake_upstream, ccr_server):
    usage = {**USAGE, "prompt_tokens_details": {"cached_tokens": 4}}
    pair = await start_pair(fake_upstream, ccr_server,
                       json_handler(chat_reply("Hi there", usage=usage, reasoning_content="I greet.")))
    async with pair.openai() as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=MESSAGES, max_completion_tokens=50, reasoning_effort="high",
            temperature=0.3, seed=7, user="u1", stop="END", response_format={"type": "json_object"},
            metadata={"k": "v"}, store=True, prediction={"type": "content", "content": "x"})
        reply = raw.parse()
    assert raw.headers["x-ccr-route"] == "fake,gpt-test; reason=default"
    message = reply.choices[0].message
    assert (message.content, message.role, reply.choices[0].finish_reason) == ("Hi there", "assistant", "stop")
    assert message.model_extra["reasoning_content"] == "I greet."
    assert reply.object == "chat.completion" and reply.model == "gpt-test" and reply.id and reply.created > 0
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (20, 5, 25)
    assert reply.usage.prompt_tokens_details.cached_tokens == 4

    sent = pair.sent
    assert_openai_request(sent)
    assert sent["model"] == "gpt-test" and sent["max_tokens"] == 50 and "max_completion_tokens" not in sent
    assert sent["messages"] == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]
    assert sent["reasoning_effort"] == "high" and sent["stop"] == ["END"]
    assert (sent["temperature"], sent["seed"], sent["user"]) == (0.3, 7, "u1")
    assert sent["response_format"] == {"type": "json_object"}
    for dropped in ("metadata", "store", "prediction"):  # OpenAI-platform features: not passed on
        assert dropped not in sent
    assert "client-key" not in json.dumps(pair.up.recorder.headers[-1])
    assert pair.up.recorder.headers[-1]["Authorization"] == "Bearer sk-upstream-secret"

    row = (await stats(pair.ccr.url))["models"][0]
    assert (row["provider"], row["model"], row["requests"]) == ("fake", "gpt-test", 1)
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (16, 5, 4)


def tool_turns(request_body: dict) -> bytes:
    """First turn: reasoning, then two parallel tool calls; after the results: text."""
    if any(m["role"] == "tool" for m in request_body["messages"]):
        return sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "Sunny in both."}),
                   chunk(finish_reason="stop"), chunk(choices=False, usage=USAGE))
    return sse(
        chunk({"role": "assistant", "reasoning_content": "Two cities, "}),
        chunk({"reasoning_content": "two calls."}),
        chunk({"tool_calls": [tool_call_delta(0, id="call_a", name="get_weather", arguments="")]}),
        chunk({"tool_calls": [tool_call_delta(0, arguments='{"city": ')]}),
        chunk({"tool_calls": [tool_call_delta(0, arguments='"Paris"}')]}),
        chunk({"tool_calls": [tool_call_delta(1, id="call_b", name="get_weather", arguments='{"city": "Rome"}')]}),
        chunk(finish_reason="tool_calls"), chunk(choices=False, usage=USAGE))


def streaming(make):
    async def handler(request: web.Request) -> web.StreamResponse:
        payload = make(json.loads(await request.read()))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for start_at in range(0, len(payload), 11):  # small writes: events cut anywhere
            await response.write(payload[start_at:start_at + 11])
        await response.write_eof()
        return response
    return handler


async def test_stream_tool_calls_round_trip_with_usage(fake_upstream, ccr_server):
    pair = await start_pair(fake_upstream, ccr_server, streaming(tool_turns))
    messages = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    async with pair.openai() as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS,
                                                      stream=True, stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        async with client.chat.completions.stream(model="gpt-4o", messages=messages, tools=TOOLS) as helper:
            final = await helper.get_final_completion()
        assert pair.sent["stream"] is True and pair.sent["stream_options"] == {"include_usage": True}
        assert_openai_request(pair.sent)

        assert all(c.object == "chat.completion.chunk" and c.model == "gpt-test" for c in chunks)
        assert len({c.id for c in chunks}) == 1
        assert chunks[0].choices[0].delta.role == "assistant"
        reasoning = "".join(c.choices[0].delta.model_extra.get("reasoning_content") or ""
                            for c in chunks if c.choices)
        assert reasoning == "Two cities, two calls."
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
        assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 25
        assert all(c.usage is None for c in chunks[:-1])

        message = final.choices[0].message
        assert [(t.id, t.function.name, json.loads(t.function.arguments)) for t in message.tool_calls] == [
            ("call_a", "get_weather", {"city": "Paris"}), ("call_b", "get_weather", {"city": "Rome"})]
        assert final.choices[0].finish_reason == "tool_calls"

        history = messages + [message.model_dump(exclude_none=True)] + [
            {"role": "tool", "tool_call_id": t.id, "content": f"sunny in {t.id}"} for t in message.tool_calls]
        second = await client.chat.completions.create(model="gpt-4o", messages=history, tools=TOOLS, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in second if c.choices])
    assert text == "Sunny in both."
    sent = pair.sent
    assert_openai_request(sent, extra={"ChatCompletionAssistantMessageParam": {"reasoning_content"}})
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in sent["messages"][1]["tool_calls"]] == ["call_a", "call_b"]
    assert [m["tool_call_id"] for m in sent["messages"][2:]] == ["call_a", "call_b"]


async def test_stream_without_include_usage_has_no_usage_chunk(fake_upstream, ccr_server):
    payload = sse(chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo"}),
                  chunk(finish_reason="stop"), chunk(choices=False, usage=USAGE))
    pair = await start_pair(fake_upstream, ccr_server, streaming(lambda _: payload))
    status, frames = await raw_stream(pair.ccr.url, {"model": "gpt-4o", "messages": MESSAGES, "stream": True})
    assert status == 200 and frames[-1] == b"data: [DONE]"
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert all("usage" not in c and c["choices"] for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Hello"
    row = (await stats(pair.ccr.url))["models"][0]
    assert (row["input_tokens"], row["output_tokens"]) == (20, 5)  # counted all the same


async def test_json_reply_to_stream_request_and_stream_reply_to_json_request(fake_upstream, ccr_server):
    payload = sse(chunk({"role": "assistant", "content": "from "}), chunk({"content": "a stream"}),
                  chunk(finish_reason="length"), chunk(choices=False, usage=USAGE))
    pair = await start_pair(fake_upstream, ccr_server, streaming(lambda _: payload))
    async with pair.openai() as client:
        reply = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert reply.choices[0].message.content == "from a stream" and reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 5

    other = await start_pair(fake_upstream, ccr_server, json_handler(chat_reply("whole", usage=USAGE)))
    async with other.openai() as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                      stream_options={"include_usage": True})
        chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "whole"
    assert chunks[-1].usage.prompt_tokens == 20


async def test_upstream_errors_are_openai_shaped(fake_upstream, ccr_server):
    bad = await start_pair(fake_upstream, ccr_server,
                      json_handler({"error": {"message": "context too long", "type": "invalid_request_error"}}, 400))
    down = await start_pair(fake_upstream, ccr_server, json_handler({"error": {"message": "overloaded"}}, 503))
    async with bad.openai() as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value.status_code == 400
    assert caught.value.body == {"message": "fake,gpt-test: upstream returned 400: context too long",
                                 "type": "invalid_request_error", "param": None, "code": "invalid_request_error"}
    async with down.openai() as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert caught.value.status_code == 529 and "overloaded" in caught.value.message
    assert caught.value.body["type"] == "server_error" and caught.value.body["code"] == "overloaded_error"
    # both servers keep their rows in the one usage ledger of this test's CCR_HOME; a query
    # through one writes its own pending rows first, the other's land with its next batch
    for _ in range(100):
        errors = (await stats(down.ccr.url))["models"][0]["errors"]
        if len(errors) == 2:
            break
        await asyncio.sleep(0.1)
    assert errors == {"400": 1, "529": 1}


@pytest.mark.parametrize("body, param", [
    ({"model": "gpt-4o"}, "messages"),
    ({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"model": "gpt-4o", "messages": MESSAGES, "temperature": "hot"}, "temperature"),
    ({"model": "gpt-4o", "messages": MESSAGES, "functions": [{"name": "f"}]}, "functions"),
    ({"model": "nope,gpt-4o", "messages": MESSAGES}, None),
])
async def test_bad_requests(fake_upstream, ccr_server, body, param):
    pair = await start_pair(fake_upstream, ccr_server, json_handler(chat_reply()))
    async with aiohttp.ClientSession() as session:
        async with session.post(pair.ccr.url + "/v1/chat/completions", json=body) as resp:
            status, error = resp.status, (await resp.json())["error"]
    assert status == (404 if param is None else 400)
    assert error["param"] == param and error["message"]
    assert error["type"] == ("not_found_error" if param is None else "invalid_request_error")
    assert not pair.up.recorder.requests


async def test_body_that_is_not_json(fake_upstream, ccr_server):
    pair = await start_pair(fake_upstream, ccr_server, json_handler(chat_reply()))
    async with aiohttp.ClientSession() as session:
        async with session.post(pair.ccr.url + "/v1/chat/completions", data=b"{nope") as resp:
            assert resp.status == 400
            assert "not valid JSON" in (await resp.json())["error"]["message"]


async def test_disconnect_closes_upstream(fake_upstream, ccr_server):
    async def hold(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(chunk({"role": "assistant", "content": "first words"}), done=False))
        await asyncio.Event().wait()  # hold until ccr hangs up
        return response

    pair = await start_pair(fake_upstream, ccr_server, hold)
    async with aiohttp.ClientSession() as session:
        resp = await session.post(pair.ccr.url + "/v1/chat/completions",
                                  json={"model": "gpt-4o", "messages": MESSAGES, "stream": True})
        seen = b""
        while b"first words" not in seen:
            seen += await asyncio.wait_for(resp.content.readany(), 10)
        assert not pair.up.recorder.disconnected.is_set()
        resp.close()
    await asyncio.wait_for(pair.up.recorder.disconnected.wait(), 10)


async def test_keepalive_comments_while_the_provider_is_silent(fake_upstream, ccr_server):
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        await release.wait()  # silent until the client has seen a keep-alive
        return web.json_response(chat_reply("late", usage=USAGE))

    pair = await start_pair(fake_upstream, ccr_server, slow, KEEPALIVE_MS=100)
    async with aiohttp.ClientSession() as session:
        async with session.post(pair.ccr.url + "/v1/chat/completions",
                                json={"model": "gpt-4o", "messages": MESSAGES, "stream": True}) as resp:
            first = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 10)
            release.set()
            rest = await resp.read()
    assert first == b": ping\n\n"
    frames = [f for f in rest.split(b"\n\n") if f and not f.startswith(b":")]
    assert frames[-1] == b"data: [DONE]"
    assert "late" in b"".join(frames).decode()
