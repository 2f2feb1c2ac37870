"""The image agent: a text-only model reaches images through analyzeImage, served by the
Router.image model in-process (the fake providers count every call ccr makes)."""

from __future__ import annotations

import json

import anthropic
import pytest
from aiohttp import web

from tests.helpers import make_config, openai_provider, sse

from .util import call, chat, chunk

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
CONVERSATION = [
    {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                "data": PNG}},
                                 {"type": "text", "text": "Here is my screenshot."}]},
    {"role": "assistant", "content": "Got it."},
    {"role": "user", "content": "What colour is the button?"},
]


def text_model(request_body: dict) -> bytes:
    if any(m["role"] == "tool" for m in request_body["messages"]):
        result = next(m for m in request_body["messages"] if m["role"] == "tool")["content"]
        return sse(chunk({"content": f"Answer from analysis: {result}"}), chunk({}, "stop"),
                        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                         "usage": {"prompt_tokens": 80, "completion_tokens": 9}})
    return sse(chunk({"content": "Let me look."}),
                    chunk({"tool_calls": [call(0, "call_img", "analyzeImage", json.dumps(
                        {"imageId": ["1"], "task": "What colour is the button?"}))]}),
                    chunk({}, "tool_calls"))


async def start(fake_upstream, ccr_server, vision_reply, **top):
    async def text(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(text_model(await request.json()))
        return response

    text_up = await fake_upstream(text)
    vision_up = await fake_upstream(vision_reply)
    config = make_config([openai_provider(text_up.url, "deepseek", ["deepseek-chat"]),
                          openai_provider(vision_up.url, "vision", ["qwen-vl"])],
                         {"default": "deepseek,deepseek-chat", "image": "vision,qwen-vl"}, **top)
    return text_up, vision_up, await ccr_server(config)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_analyze_image_served_by_the_image_model(fake_upstream, ccr_server, stream):
    async def vision(request: web.Request) -> web.Response:
        return web.json_response(chat("The button is green."))

    text_up, vision_up, ccr = await start(fake_upstream, ccr_server, vision)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        if stream:
            async with client.messages.stream(model="claude-sonnet-5", max_tokens=200, messages=CONVERSATION,
                                              system="You help.") as s:
                message = await s.get_final_message()
        else:
            message = await client.messages.create(model="claude-sonnet-5", max_tokens=200,
                                                   messages=CONVERSATION, system="You help.")
    assert [b.type for b in message.content] == ["text", "text"]
    assert message.content[0].text == "Let me look."
    assert message.content[1].text == "Answer from analysis: The button is green."
    assert message.stop_reason == "end_turn" and message.usage.input_tokens == 80

    first, second = text_up.recorder.requests
    assert "image_url" not in json.dumps(first)
    assert "[Image #1]" in json.dumps(first["messages"][1]) and "text-only model" in first["messages"][0]["content"]
    assert first["tools"][0]["function"]["name"] == "analyzeImage"
    assert [m["role"] for m in second["messages"]][-2:] == ["assistant", "tool"]
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "analyzeImage"

    (asked,) = vision_up.recorder.requests
    parts = asked["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert "What colour is the button?" in json.dumps(parts)


async def test_image_model_failure_goes_back_as_a_tool_error(fake_upstream, ccr_server):
    async def vision(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "vision quota exhausted"}}, status=429)

    text_up, _, ccr = await start(fake_upstream, ccr_server, vision)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        message = await client.messages.create(model="claude-sonnet-5", max_tokens=200, messages=CONVERSATION)
    assert "vision quota exhausted" in message.content[-1].text
    tool = text_up.recorder.requests[-1]["messages"][-1]
    assert tool["role"] == "tool" and tool["content"].startswith("Error")


async def test_last_turn_images_go_to_the_image_model_directly(fake_upstream, ccr_server):
    async def vision(request: web.Request) -> web.Response:
        return web.json_response(chat("A tiny PNG."))

    text_up, vision_up, ccr = await start(fake_upstream, ccr_server, vision)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        message = await client.messages.create(model="claude-sonnet-5", max_tokens=200, messages=CONVERSATION[:1])
    assert message.content[0].text == "A tiny PNG."
    assert text_up.recorder.requests == [] and "image_url" in json.dumps(vision_up.recorder.last)


async def test_force_use_image_agent_keeps_last_turn_images_on_the_routed_model(fake_upstream, ccr_server):
    async def vision(request: web.Request) -> web.Response:
        return web.json_response(chat("The button is green."))

    text_up, vision_up, ccr = await start(fake_upstream, ccr_server, vision, forceUseImageAgent=True)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        message = await client.messages.create(model="claude-sonnet-5", max_tokens=200, messages=CONVERSATION[:1])
    assert message.content[-1].text == "Answer from analysis: The button is green."
    first = text_up.recorder.requests[0]
    assert "image_url" not in json.dumps(first) and "[Image #1]" in json.dumps(first["messages"])
    assert "image_url" in json.dumps(vision_up.recorder.last)
