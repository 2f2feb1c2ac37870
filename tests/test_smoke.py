"""End to end through ccr with the official Anthropic SDK and a fake OpenAI-compatible provider."""

from __future__ import annotations

import anthropic
from aiohttp import web

from tests.helpers import make_config, openai_provider, sse


async def test_plain_reply(fake_upstream, ccr_server):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})

    up = await fake_upstream(handler)
    ccr = await ccr_server(make_config([openai_provider(up.url)], {"default": "fake,gpt-test"}))
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="anything") as client:
        message = await client.messages.create(model="claude-sonnet-5", max_tokens=100,
                                               messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "Hello there"
    assert message.usage.input_tokens == 12 and message.usage.output_tokens == 3
    assert message.stop_reason == "end_turn"
    sent = up.recorder.last
    assert sent["model"] == "gpt-test"
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert up.recorder.headers[-1]["Authorization"] == "Bearer sk-upstream-secret"


async def test_stream_with_tool_call(fake_upstream, ccr_server):
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(
            {"id": "c1", "model": "gpt-test", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Let me "}}]},
            {"id": "c1", "choices": [{"index": 0, "delta": {"content": "check."}}]},
            {"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": ""}}]}}]},
            {"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"command\": "}}]}}]},
            {"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]}}]},
            {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            {"id": "c1", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9}},
        ))
        return response

    up = await fake_upstream(handler)
    ccr = await ccr_server(make_config([openai_provider(up.url)], {"default": "fake,gpt-test"}))
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="anything") as client:
        async with client.messages.stream(model="claude-sonnet-5", max_tokens=100,
                                          tools=[{"name": "Bash", "description": "run",
                                                  "input_schema": {"type": "object"}}],
                                          messages=[{"role": "user", "content": "list"}]) as stream:
            message = await stream.get_final_message()
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "Let me check."
    assert message.content[1].input == {"command": "ls"}
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 9
    assert up.recorder.last["stream_options"] == {"include_usage": True}
