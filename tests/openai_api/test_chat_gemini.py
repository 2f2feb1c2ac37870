"""/v1/chat/completions in front of the gemini dialect: the dialect returns unified chunks, which
come out as OpenAI objects (thinking -> reasoning_content, function calls -> tool_calls)."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from tests.helpers import sse, start_pair
from tests.transformers.util import assert_gemini_request, gemini_reply_checked

MODEL = "gemini-2.5-pro"
TOOLS = [{"type": "function", "function": {"name": "read_file", "description": "read a file",
                                           "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]
USAGE = {"promptTokenCount": 30, "candidatesTokenCount": 8, "thoughtsTokenCount": 4, "totalTokenCount": 42}


def candidate(parts, finish=None, usage=None):
    body = {"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0}],
            "modelVersion": MODEL, "responseId": "resp-1", "usageMetadata": usage or {"promptTokenCount": 30}}
    if finish:
        body["candidates"][0]["finishReason"] = finish
    return gemini_reply_checked(body)


def gemini_api(request_body: dict, stream: bool) -> bytes | dict:
    answered = any(p.get("functionResponse") for c in request_body["contents"] for p in c["parts"])
    if not stream:
        return candidate([{"text": "short file"}], "STOP", USAGE)
    if answered:
        return sse(candidate([{"text": "It has "}]), candidate([{"text": "2 lines."}], "STOP", USAGE), done=False)
    return sse(candidate([{"text": "Reading first.", "thought": True}]),
                    candidate([{"functionCall": {"name": "read_file", "args": {"path": "a.py"}},
                                "thoughtSignature": "c2lnbmF0dXJl"}], "STOP", USAGE), done=False)


async def handler(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    stream = request.path.endswith(":streamGenerateContent")
    reply = gemini_api(body, stream)
    if not stream:
        return web.json_response(reply)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(reply)
    await response.write_eof()
    return response


@pytest.fixture
async def pair(fake_upstream, ccr_server):
    return await start_pair(fake_upstream, ccr_server, handler, use=["gemini"], path="/v1beta/models/",
                       name="gem", model=MODEL)


async def test_json(pair):
    async with pair.openai() as client:
        reply = await client.chat.completions.create(
            model="gem," + MODEL, max_tokens=100, stop="END",
            messages=[{"role": "system", "content": "terse"}, {"role": "user", "content": "size?"}])
    assert_gemini_request(pair.sent)
    assert pair.up.recorder.paths[-1].endswith(f"{MODEL}:generateContent")
    assert pair.sent["generationConfig"] == {"maxOutputTokens": 100, "stopSequences": ["END"]}
    assert reply.choices[0].message.content == "short file" and reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (30, 12)
    assert reply.model == MODEL and reply.object == "chat.completion"


async def test_stream_tool_round_trip(pair):
    messages = [{"role": "user", "content": "how long is a.py?"}]
    async with pair.openai() as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS,
                                                      reasoning_effort="high", stream=True,
                                                      stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        assert_gemini_request(pair.sent)
        assert pair.sent["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 16384}
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        assert deltas[0].role == "assistant"
        assert "".join(d.model_extra.get("reasoning_content") or "" for d in deltas) == "Reading first."
        calls = [t for d in deltas for t in d.tool_calls or ()]
        assert len(calls) == 1 and calls[0].function.name == "read_file" and calls[0].index == 0
        assert json.loads(calls[0].function.arguments) == {"path": "a.py"}
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
        assert chunks[-1].usage.total_tokens == 42

        history = [*messages, {"role": "assistant", "content": None, "tool_calls": [{"id": calls[0].id, "type": "function", "function": {"name": "read_file", "arguments": calls[0].function.arguments}}]}, {"role": "tool", "tool_call_id": calls[0].id, "content": "x = 1\ny = 2"}]
        second = await client.chat.completions.create(model="gpt-4o", messages=history, tools=TOOLS, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in second if c.choices])
    assert text == "It has 2 lines."
    assert_gemini_request(pair.sent)
    model_turn = pair.sent["contents"][1]
    # the thought signature travelled inside the tool-call id and went back to Gemini
    assert model_turn["parts"][0]["thoughtSignature"] == "c2lnbmF0dXJl"
    assert pair.sent["contents"][2]["parts"][0]["functionResponse"]["name"] == "read_file"


async def test_n_above_one_is_refused(pair):
    import openai

    async with pair.openai() as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="gpt-4o", n=2, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["param"] == "n" and "dialect gemini" in caught.value.body["message"]
    assert not pair.up.recorder.requests
