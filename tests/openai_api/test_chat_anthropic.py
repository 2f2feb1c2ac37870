"""/v1/chat/completions in front of a native Anthropic provider (`use: ["anthropic"]`): the OpenAI
request becomes an Anthropic one, the Anthropic reply (JSON or events) OpenAI objects."""

from __future__ import annotations

import asyncio
import json

import anthropic
import openai
import pytest
from aiohttp import web
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)

from tests.core.util import _check as check_typed
from tests.core.util import json_handler
from tests.helpers import start_pair, typed_sse
from tests.transformers.util import staged

SIG = "EqQBCkYIBxgCKkB-real-anthropic-signature=="
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather of a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
IMAGE = "data:image/png;base64,iVBORw0KGgo="
USAGE = {"input_tokens": 10, "output_tokens": 7, "cache_read_input_tokens": 90, "cache_creation_input_tokens": 0}


def message(*content, stop="end_turn"):
    body = {"id": "msg_up_1", "type": "message", "role": "assistant", "model": "claude-up",
            "content": list(content), "stop_reason": stop, "stop_sequence": None, "usage": USAGE}
    anthropic.types.Message.model_validate(body)
    return body


def events_for(text: str, *, tool: bool) -> bytes:
    events = [{"type": "message_start", "message": {**message(), "content": [], "stop_reason": None,
                                                    "usage": {**USAGE, "output_tokens": 1}}},
              {"type": "ping"},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "check."}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIG}},
              {"type": "content_block_stop", "index": 0},
              {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
              {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": text}},
              {"type": "content_block_stop", "index": 1}]
    if tool:
        events += [{"type": "content_block_start", "index": 2, "content_block": {
                       "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}},
                   {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"city"'}},
                   {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ': "Oslo"}'}},
                   {"type": "content_block_stop", "index": 2}]
    events += [{"type": "message_delta", "delta": {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 30}},
               {"type": "message_stop"}]
    return typed_sse(*events)


def conversation(request: web.Request, body: dict) -> bytes:
    done = any(isinstance(m["content"], list) and any(b["type"] == "tool_result" for b in m["content"])
               for m in body["messages"])
    return events_for("It is sunny." if done else "Checking.", tool=not done)


async def native(fake_upstream, ccr_server, handler):
    return await start_pair(fake_upstream, ccr_server, handler, use=["anthropic"], path="/v1/messages",
                       name="claude", model="claude-up")


async def test_json_request_and_reply_mapping(fake_upstream, ccr_server):
    reply = message({"type": "thinking", "thinking": "Hmm.", "signature": SIG}, {"type": "text", "text": "Hi!"},
                    {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Oslo"}},
                    stop="tool_use")
    pair = await native(fake_upstream, ccr_server, json_handler(reply))
    messages = [{"role": "system", "content": "Be terse."},
                {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                             {"type": "image_url", "image_url": {"url": IMAGE}}]}]
    async with pair.openai() as client:
        result = await client.chat.completions.create(
            model="claude,claude-up", messages=messages, tools=TOOLS, tool_choice="required",
            parallel_tool_calls=False, reasoning_effort="medium", stop=["END"], user="u7", temperature=0.5)
    sent = pair.sent
    assert sent == {
        "model": "claude-up", "system": [{"type": "text", "text": "Be terse."}],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}],
        "max_tokens": 8192 + 8192, "thinking": {"type": "enabled", "budget_tokens": 8192},
        "stop_sequences": ["END"], "metadata": {"user_id": "u7"},
        "tools": [{"name": "get_weather", "description": "weather of a city",
                   "input_schema": TOOLS[0]["function"]["parameters"]}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True}}  # no temperature with thinking
    check_typed(sent, MessageCreateParamsNonStreaming, "body", {})  # key for key the Anthropic SDK's type
    assert pair.up.recorder.headers[-1]["anthropic-version"] == "2023-06-01"
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "Hi!"
    assert choice.message.model_extra == {"reasoning_content": "Hmm.", "reasoning_signature": SIG}
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("toolu_9", "get_weather", {"city": "Oslo"})
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (100, 7)
    assert result.usage.prompt_tokens_details.cached_tokens == 90
    assert result.model == "claude-up" and result.id == "msg_up_1"


async def test_stream_tool_loop_keeps_signed_thinking(fake_upstream, ccr_server):
    async def handler(request: web.Request) -> web.StreamResponse:
        payload = conversation(request, await request.json())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for at in range(0, len(payload), 13):
            await response.write(payload[at:at + 13])
        await response.write_eof()
        return response

    pair = await native(fake_upstream, ccr_server, handler)
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    async with pair.openai() as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS, stream=True,
                                                      reasoning_effort="low", stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        assert pair.sent["stream"] is True and pair.sent["thinking"]["budget_tokens"] == 2048
        check_typed(pair.sent, MessageCreateParamsStreaming, "body", {})
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        assert "".join(d.model_extra.get("reasoning_content") or "" for d in deltas) == "Let me check."
        assert [d.model_extra["reasoning_signature"] for d in deltas if d.model_extra.get("reasoning_signature")] == [SIG]
        assert "".join(d.content or "" for d in deltas) == "Checking."
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
        assert chunks[-1].usage.prompt_tokens == 100 and chunks[-1].usage.completion_tokens == 30

        async with client.chat.completions.stream(model="gpt-4o", messages=messages, tools=TOOLS,
                                                  reasoning_effort="low") as helper:
            final = await helper.get_final_completion()
        turn = final.choices[0].message
        assert turn.tool_calls[0].function.arguments == '{"city": "Oslo"}'
        history = [*messages, turn.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": turn.tool_calls[0].id, "content": "sunny"}]
        second = await client.chat.completions.create(model="gpt-4o", messages=history, tools=TOOLS,
                                                      reasoning_effort="low")
    assert second.choices[0].message.content == "It is sunny."
    sent = pair.sent
    check_typed(sent, MessageCreateParamsNonStreaming, "body", {})
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["messages"][1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "Let me check.", "signature": SIG},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}]}
    assert sent["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}


async def test_tool_loop_without_signature_goes_without_thinking(fake_upstream, ccr_server):
    pair = await native(fake_upstream, ccr_server, json_handler(message({"type": "text", "text": "ok"})))
    history = [{"role": "user", "content": "go"},
               {"role": "assistant", "content": None, "reasoning_content": "lost signature",
                "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}]
    async with pair.openai() as client:
        await client.chat.completions.create(model="gpt-4o", messages=history, tools=TOOLS, reasoning_effort="high")
    assert "thinking" not in pair.sent
    assert [b["type"] for b in pair.sent["messages"][1]["content"]] == ["tool_use"]


async def test_errors(fake_upstream, ccr_server):
    limited = await native(fake_upstream, ccr_server, json_handler(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}, 429))
    async with limited.openai() as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
        assert caught.value.body["message"] == "claude,claude-up: upstream returned 429: slow down"
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="gpt-4o", n=2, messages=[{"role": "user", "content": "x"}])
        assert caught.value.body["param"] == "n" and "Anthropic" in caught.value.body["message"]

    release = asyncio.Event()
    start_events = events_for("x", tool=False).split(b"event: content_block_start")[0]
    error = typed_sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    broken = await native(fake_upstream, ccr_server, staged(start_events, error, release))
    async with broken.openai() as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                                      stream=True)
        with pytest.raises(openai.APIError) as caught:
            async for item in stream:
                assert item.choices[0].delta.role == "assistant"
                release.set()
    assert "Overloaded" in caught.value.message
