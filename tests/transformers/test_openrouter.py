"""openrouter and vercel dialects against a fake OpenRouter (OpenAI chat completions plus
`reasoning`, `reasoning_details`, provider routing, `: OPENROUTER PROCESSING` comments).

Shapes follow https://openrouter.ai/docs/use-cases/reasoning-tokens (reasoning_details with
reasoning.text / reasoning.encrypted entries, sent back on the assistant message) and
https://openrouter.ai/docs/api-reference/streaming (comments, errors mid-stream).
"""

from __future__ import annotations

import asyncio
import json

from tests.core.util import assert_openai_request
from tests.helpers import sse

from .util import (
    TOOLS,
    chat,
    create_message,
    history,
    read_stream,
    replying,
    setup,
    staged,
    stream_message,
    streaming,
    tool_results,
)

GEMINI = "google/gemini-3-pro-preview"
CLAUDE = "anthropic/claude-sonnet-4.5"
ENCRYPTED = {"type": "reasoning.encrypted", "data": "CiQBjz1rEncryptedThought==", "format": "google-gemini-v1",
             "index": 1, "id": "tool_Read_7f3"}
EXTENSIONS = {"CompletionCreateParamsStreaming": {"provider", "reasoning", "usage"},
              "CompletionCreateParamsNonStreaming": {"provider", "reasoning", "usage"},
              "ChatCompletionAssistantMessageParam": {"reasoning_details"},
              "ChatCompletionContentPartTextParam": {"cache_control"}}


def orchunk(delta, finish=None, **extra):
    return {"id": "gen-1", "provider": "Google", "model": GEMINI, "object": "chat.completion.chunk",
            "created": 1, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", **delta},
                                       "finish_reason": finish, "native_finish_reason": finish}], **extra}


FIRST = b": OPENROUTER PROCESSING\n\n" + sse(
    orchunk({"reasoning": "Need the file.",
             "reasoning_details": [{"type": "reasoning.text", "text": "Need the file.", "format": "google-gemini-v1",
                                    "index": 0}]}),
    orchunk({"tool_calls": [{"index": 0, "id": "tool_Read_7f3", "type": "function",
                             "function": {"name": "Read", "arguments": "{\"path\":"}}]}),
    orchunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"a.py\"}"}}],
             "reasoning_details": [ENCRYPTED]}),
    orchunk({}, "tool_calls"),
    orchunk({}, None, usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                             "prompt_tokens_details": {"cached_tokens": 40}}))
SECOND = sse(orchunk({"content": "It prints 1."}), orchunk({}, "stop"))


def conversation(body):
    return SECOND if any(m["role"] == "tool" for m in body["messages"]) else FIRST


async def test_gemini_through_openrouter_keeps_signatures_across_the_tool_loop(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, streaming(conversation), model=GEMINI, path="/api/v1/chat/completions",
                       use=[["openrouter", {"provider": {"only": ["google-vertex"]}}]])
    ask = {"role": "user", "content": "read a.py"}
    first = await stream_message(pair, tools=TOOLS, thinking={"type": "enabled", "budget_tokens": 2048}, messages=[ask])
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert first.content[0].thinking == "Need the file." and first.content[1].input == {"path": "a.py"}
    assert first.usage.input_tokens == 60 and first.usage.cache_read_input_tokens == 40
    sent = pair.up.recorder.requests[0]
    assert_openai_request(sent, extra=EXTENSIONS)
    assert sent["provider"] == {"only": ["google-vertex"]} and sent["reasoning"] == {"max_tokens": 2048}

    second = await stream_message(pair, tools=TOOLS, messages=[ask, history(first), tool_results(first, "print(1)")])
    assert second.content[0].text == "It prints 1."
    sent = pair.sent
    assert_openai_request(sent, extra=EXTENSIONS)
    assistant = sent["messages"][1]
    assert assistant["tool_calls"][0]["id"] == "tool_Read_7f3"
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "tool_Read_7f3", "content": "print(1)"}
    assert assistant["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Need the file.", "format": "google-gemini-v1", "index": 0}, ENCRYPTED]


async def test_claude_through_openrouter_keeps_cache_control_and_thinking_signature(fake_upstream, ccr_server):
    details = [{"type": "reasoning.text", "text": "Short answer.", "signature": "EqQBCkgIARABGAIiQ", "format":
                "anthropic-claude-v1", "index": 0}]
    pair = await setup(fake_upstream, ccr_server, replying(chat("Hi!", reasoning="Short answer.",
                                                                reasoning_details=details)),
                       model=CLAUDE, use=["openrouter"])
    system = [{"type": "text", "text": "big prompt", "cache_control": {"type": "ephemeral"}}]
    message = await create_message(pair, system=system, messages=[{"role": "user", "content": [
        {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}]}])
    assert_openai_request(pair.sent, extra=EXTENSIONS)
    assert pair.sent["messages"][0]["content"] == [{"type": "text", "text": "big prompt",
                                                    "cache_control": {"type": "ephemeral"}}]
    user = pair.sent["messages"][1]["content"]
    assert user[0]["cache_control"] == {"type": "ephemeral"}
    assert user[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}
    assert [b.type for b in message.content] == ["thinking", "text"]
    await create_message(pair, messages=[{"role": "user", "content": "hello"}, history(message),
                                         {"role": "user", "content": "again"}])
    assert pair.sent["messages"][1]["reasoning_details"] == details


async def test_other_models_lose_cache_control(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat("ok")), model="moonshotai/kimi-k2", use=["openrouter"])
    await create_message(pair, system=[{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
                         messages=[{"role": "user", "content": "hi"}])
    assert_openai_request(pair.sent, extra=EXTENSIONS)
    assert "cache_control" not in json.dumps(pair.sent)


async def test_error_mid_stream(fake_upstream, ccr_server):
    release = asyncio.Event()
    rest = sse({**orchunk({}, "error"), "error": {"code": "server_error", "message": "Provider disconnected"}}, done=False)
    pair = await setup(fake_upstream, ccr_server, staged(sse(orchunk({"content": "Partial"}), done=False), rest, release),
                       model=GEMINI, use=["openrouter"])
    status, events = await read_stream(pair.ccr.url, {"model": "claude-sonnet-5", "max_tokens": 10,
                                                      "messages": [{"role": "user", "content": "hi"}]}, release)
    assert status == 200 and events[-1][0] == "error"
    assert "Provider disconnected" in events[-1][1]["error"]["message"]
    assert any(d.get("delta", {}).get("text") == "Partial" for _, d in events)


async def test_vercel_merges_provider_options(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat("ok", reasoning="brief")), model=CLAUDE,
                       path="/v1/chat/completions",
                       use=[["vercel", {"providerOptions": {"gateway": {"order": ["bedrock", "anthropic"]}}}]])
    message = await create_message(pair, messages=[{"role": "user", "content": "hi"}])
    assert pair.sent["providerOptions"] == {"gateway": {"order": ["bedrock", "anthropic"]}}
    assert [b.type for b in message.content] == ["thinking", "text"] and message.content[0].thinking == "brief"
