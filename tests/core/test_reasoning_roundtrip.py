"""DeepSeek-style tool loops: reasoning that a provider produced goes back to that provider.

DeepSeek's reasoning models reject a tool-call turn whose `reasoning_content` is missing
(claude-code-router issue #1050); other providers reject the unknown field. ccr marks the
thinking it builds with the provider and field it came from and sends it back only there.
"""

from __future__ import annotations

import anthropic
import pytest

from tests.helpers import make_config, openai_provider, sse

from .util import assert_openai_request, chat_reply, chunk, tool_call_delta

TOOLS = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]
DEEPSEEK_EXTRA = {"ChatCompletionAssistantMessageParam": {"reasoning_content"}}


def first_turn(stream: bool):
    calls = [{"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}]

    async def handler(request):
        from aiohttp import web
        body = await request.json()
        if len(body["messages"]) > 1:  # second turn: a plain answer
            return web.json_response(chat_reply("Two files."))
        if not stream:
            return web.json_response(chat_reply(None, reasoning_content="I should list.", tool_calls=calls,
                                                finish_reason="tool_calls"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(chunk({"reasoning_content": "I should "}), chunk({"reasoning_content": "list."}),
                                 chunk({"tool_calls": [tool_call_delta(0, id="call_1", name="Bash",
                                                                       arguments='{"command":"ls"}')]}),
                                 chunk(finish_reason="tool_calls")))
        return response
    return handler


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_reasoning_goes_back_to_the_same_provider_only(fake_upstream, ccr_server, stream):
    deepseek = await fake_upstream(first_turn(stream))
    other = await fake_upstream(first_turn(stream))
    config = make_config([openai_provider(deepseek.url, "deepseek", ["deepseek-reasoner"]),
                          openai_provider(other.url, "other", ["gpt-test"])],
                         {"default": "deepseek,deepseek-reasoner"})
    ccr = await ccr_server(config)
    history = [{"role": "user", "content": "list files"}]
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k") as client:
        if stream:
            async with client.messages.stream(model="claude-sonnet-5", max_tokens=100, tools=TOOLS,
                                              messages=history) as s:
                first = await s.get_final_message()
        else:
            first = await client.messages.create(model="claude-sonnet-5", max_tokens=100, tools=TOOLS,
                                                 messages=history)
        assert [b.type for b in first.content] == ["thinking", "tool_use"]
        history += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1",
                                                  "content": "a b"}]}]
        await client.messages.create(model="claude-sonnet-5", max_tokens=100, tools=TOOLS, messages=history)
        # the same conversation sent explicitly to another provider
        await client.messages.create(model="other,gpt-test", max_tokens=100, tools=TOOLS, messages=history)

    back = deepseek.recorder.last["messages"][1]
    assert back["role"] == "assistant" and back["reasoning_content"] == "I should list."
    assert back["tool_calls"][0]["id"] == "call_1"
    assert_openai_request(deepseek.recorder.last, extra=DEEPSEEK_EXTRA)
    elsewhere = other.recorder.last["messages"][1]
    assert "reasoning_content" not in elsewhere and "thinking" not in elsewhere
    assert_openai_request(other.recorder.last)


async def test_foreign_signatures_are_not_sent(proxy):
    """Thinking signed by Anthropic itself (or by anyone but ccr) never reaches an OpenAI provider."""
    pair = await proxy()
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k") as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=10, messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "secret", "signature": "EqQBCkYIBxgCKkBa..."},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": "b"}]},
            {"role": "user", "content": "c"}])
    assert pair.sent["messages"][1] == {"role": "assistant", "content": "b"}
    assert_openai_request(pair.sent)


async def test_interleaved_thinking_goes_back_joined(fake_upstream, ccr_server):
    up = await fake_upstream(lambda r: _reply())
    ccr = await ccr_server(make_config([openai_provider(up.url, "deepseek", ["deepseek-reasoner"])],
                                       {"default": "deepseek,deepseek-reasoner"}))
    sig = "ccr1:reasoning_content:deepseek"
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k") as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=10, tools=TOOLS, messages=[
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "first", "signature": sig},
                {"type": "tool_use", "id": "a", "name": "Bash", "input": {}},
                {"type": "thinking", "thinking": "second", "signature": sig},
                {"type": "tool_use", "id": "b", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "1"},
                                         {"type": "tool_result", "tool_use_id": "b", "content": "2"}]}])
    assert up.recorder.last["messages"][1]["reasoning_content"] == "first\nsecond"


async def _reply():
    from aiohttp import web
    return web.json_response(chat_reply("ok"))
