"""The gemini dialect against a fake Gemini API (generateContent / streamGenerateContent?alt=sse).

Shapes follow https://ai.google.dev/api/generate-content and the thought-signatures guide:
thought parts, parallel function calls where only the first carries a thoughtSignature, usage
in every chunk (the last one complete), errors inside the stream.
"""

from __future__ import annotations

import asyncio

import anthropic
import pytest

from tests.helpers import sse

from .util import (
    TOOLS,
    assert_gemini_request,
    create_message,
    gemini_reply_checked,
    history,
    read_stream,
    replying,
    setup,
    staged,
    stream_message,
    streaming,
    tool_results,
)

MODEL = "gemini-3-pro-preview"
SIG = "CiQBj/v/v/v/v/v/v/v/v/v/v/v/v/v/v/v/v/v/v3NpZw=="  # base64 with + / and padding
USAGE = {"promptTokenCount": 120, "candidatesTokenCount": 40, "thoughtsTokenCount": 30,
         "cachedContentTokenCount": 100, "totalTokenCount": 190}


def candidate(parts, finish=None, usage=None):
    body = {"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0}],
            "modelVersion": MODEL, "responseId": "resp-1"}
    if finish:
        body["candidates"][0]["finishReason"] = finish
    body["usageMetadata"] = usage or {"promptTokenCount": 120, "totalTokenCount": 120}
    return gemini_reply_checked(body)


FIRST_TURN = sse(
    candidate([{"text": "I need both files.", "thought": True}]),
    candidate([{"functionCall": {"name": "Read", "args": {"path": "a.py"}}, "thoughtSignature": SIG},
               {"functionCall": {"name": "Read", "args": {"path": "b.py"}}}]),
    candidate([{"text": ""}], finish="STOP", usage=USAGE),
    done=False)
SECOND_TURN = sse(
    candidate([{"text": "Both files "}]),
    candidate([{"text": "are short.", "thoughtSignature": "U2Vjb25kU2ln"}], finish="STOP", usage=USAGE),
    done=False)


def conversation(body):
    return SECOND_TURN if any(p.get("functionResponse") for c in body["contents"] for p in c["parts"]) else FIRST_TURN


async def gemini(fake_upstream, ccr_server, handler, model=MODEL, **kw):
    return await setup(fake_upstream, ccr_server, handler, use=["gemini"], model=model,
                       path="/v1beta/models/", **kw)


async def test_stream_thinking_parallel_calls_and_signature_round_trip(fake_upstream, ccr_server):
    pair = await gemini(fake_upstream, ccr_server, streaming(conversation))
    system = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
    first = await stream_message(pair, system=system, tools=TOOLS, thinking={"type": "enabled", "budget_tokens": 2048},
                                 messages=[{"role": "user", "content": "compare a.py and b.py"}])
    assert [b.type for b in first.content] == ["thinking", "tool_use", "tool_use"]
    assert first.content[0].thinking == "I need both files."
    assert [b.input for b in first.content[1:]] == [{"path": "a.py"}, {"path": "b.py"}]
    assert first.stop_reason == "tool_use"
    assert first.usage.input_tokens == 20 and first.usage.cache_read_input_tokens == 100
    assert first.usage.output_tokens == 70

    path, headers, sent = pair.up.recorder.paths[0], pair.up.recorder.headers[0], pair.up.recorder.requests[0]
    assert path == f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    assert headers["x-goog-api-key"] == "sk-upstream-secret" and "Authorization" not in headers
    assert sent["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "compare a.py and b.py"}]}]
    declarations = sent["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["Read", "Bash"]
    assert "$schema" not in declarations[0]["parametersJsonSchema"]
    assert sent["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "low"}  # 2048 = low
    assert sent["generationConfig"]["maxOutputTokens"] == 1000
    assert_gemini_request(sent)

    second = await stream_message(pair, system=system, tools=TOOLS, messages=[
        {"role": "user", "content": "compare a.py and b.py"}, history(first), tool_results(first, "print(1)")])
    assert [b.type for b in second.content] == ["text"] and second.content[0].text == "Both files are short."
    assert_gemini_request(pair.sent)
    contents = pair.sent["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    calls = contents[1]["parts"]
    assert calls[0] == {"functionCall": {"name": "Read", "args": {"path": "a.py"}}, "thoughtSignature": SIG}
    assert calls[1] == {"functionCall": {"name": "Read", "args": {"path": "b.py"}}}
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "Read", "response": {"result": "print(1)"}}},
        {"functionResponse": {"name": "Read", "response": {"result": "print(1)"}}}]


async def test_whole_reply_and_text_signature(fake_upstream, ccr_server):
    body = candidate([{"text": "Plan quietly.", "thought": True},
                      {"text": "Answer.", "thoughtSignature": "VGV4dFNpZw=="}], finish="STOP", usage=USAGE)
    pair = await gemini(fake_upstream, ccr_server, replying(body), model="gemini-2.5-flash")
    message = await create_message(pair, thinking={"type": "enabled", "budget_tokens": 100000},
                                   messages=[{"role": "user", "content": "hi"}])
    assert pair.up.recorder.paths[-1] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert pair.sent["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 24576}
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[1].text == "Answer." and message.stop_reason == "end_turn"
    # the signature goes back on the model turn's last part, to Gemini only
    await create_message(pair, messages=[{"role": "user", "content": "hi"}, history(message),
                                         {"role": "user", "content": "more"}])
    assert_gemini_request(pair.sent)
    assert pair.sent["contents"][1] == {"role": "model", "parts": [{"text": "Answer.", "thoughtSignature": "VGV4dFNpZw=="}]}


async def test_gemini3_history_without_signature_gets_googles_skip_value(fake_upstream, ccr_server):
    pair = await gemini(fake_upstream, ccr_server, replying(candidate([{"text": "ok"}], finish="STOP")))
    await create_message(pair, tools=TOOLS, messages=[
        {"role": "user", "content": "read"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"path": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "data"}]}])
    assert_gemini_request(pair.sent)
    part = pair.sent["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == "skip_thought_signature_validator"
    assert "id" not in part["functionCall"]


async def test_max_tokens_finish_and_tool_choice(fake_upstream, ccr_server):
    pair = await gemini(fake_upstream, ccr_server,
                        replying(candidate([{"text": "cut"}], finish="MAX_TOKENS")))
    message = await create_message(pair, tools=TOOLS, tool_choice={"type": "tool", "name": "Bash"},
                                   messages=[{"role": "user", "content": "go"}])
    assert message.stop_reason == "max_tokens"
    assert_gemini_request(pair.sent)
    assert pair.sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["Bash"]}}


async def test_image_becomes_inline_data(fake_upstream, ccr_server):
    pair = await gemini(fake_upstream, ccr_server, replying(candidate([{"text": "a cat"}], finish="STOP")))
    await create_message(pair, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
        {"type": "text", "text": "what is it?"}]}])
    assert_gemini_request(pair.sent)
    assert pair.sent["contents"][0]["parts"] == [{"inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}},
                                                 {"text": "what is it?"}]


async def test_error_in_the_middle_of_the_stream(fake_upstream, ccr_server):
    release = asyncio.Event()
    rest = sse({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}, done=False)
    pair = await gemini(fake_upstream, ccr_server, staged(sse(candidate([{"text": "Start"}]), done=False), rest, release))
    status, events = await read_stream(pair.ccr.url, {"model": "claude-sonnet-5", "max_tokens": 10,
                                                      "messages": [{"role": "user", "content": "hi"}]}, release)
    assert status == 200 and events[-1][0] == "error"
    assert "The model is overloaded." in events[-1][1]["error"]["message"]
    assert any(e == "content_block_delta" and d["delta"].get("text") == "Start" for e, d in events)


async def test_blocked_prompt_is_a_clear_error(fake_upstream, ccr_server):
    pair = await gemini(fake_upstream, ccr_server, replying({"promptFeedback": {"blockReason": "SAFETY"}}))
    with pytest.raises(anthropic.APIStatusError) as caught:
        await create_message(pair, messages=[{"role": "user", "content": "hi"}])
    assert "blocked the prompt: SAFETY" in caught.value.body["error"]["message"]


async def test_upstream_http_error_names_provider(fake_upstream, ccr_server):
    error = {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}
    pair = await gemini(fake_upstream, ccr_server, replying(error, status=400))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await create_message(pair, messages=[{"role": "user", "content": "hi"}])
    assert "API key not valid." in caught.value.body["error"]["message"]
    assert f"p,{MODEL}" in caught.value.body["error"]["message"]
