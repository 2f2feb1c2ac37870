"""The one pipeline: what every caller gets the same (ccr1 thinking kept from native Anthropic
providers on the image agent's path too, a malformed stream chunk ending the stream with an
error), and its plug points (request adjusters, record observers)."""

from __future__ import annotations

import json

import anthropic
import openai
from aiohttp import web

from ccr.proxy.records import PreparedRequest, RecordedExchange
from ccr.server.keys import RECORD_OBSERVERS, REQUEST_ADJUSTERS
from tests.helpers import make_config, openai_provider, parse_sse, sse

from .util import USAGE, chat_reply, chunk, raw_post, stream_handler

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
NATIVE_MESSAGE = {"id": "msg_up", "type": "message", "role": "assistant", "model": "claude-up",
                  "content": [{"type": "text", "text": "Native answer"}], "stop_reason": "end_turn",
                  "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 2}}


async def test_image_agent_path_keeps_ccr_thinking_from_a_native_anthropic_provider(fake_upstream, ccr_server):
    """Turn 1: a reasoning model behind the OpenAI dialect answers with reasoning (ccr signs it
    `ccr1:`). Turn 2 carries an image in an earlier message, so the image agent serves the
    native Anthropic default: that provider must never see a ccr1-signed thinking block."""
    async def reasoner(request: web.Request) -> web.Response:
        return web.json_response(chat_reply("Blue.", reasoning_content="Let me think.", usage=USAGE))

    async def claude(request: web.Request) -> web.Response:
        return web.json_response(NATIVE_MESSAGE)

    async def vision(request: web.Request) -> web.Response:
        return web.json_response(chat_reply("A blue square."))

    reasoning_up = await fake_upstream(reasoner)
    claude_up = await fake_upstream(claude, path="/v1/messages")
    vision_up = await fake_upstream(vision)
    config = make_config(
        [openai_provider(reasoning_up.url, "ds", ["reasoner"]),
         {"name": "claude", "api_base_url": claude_up.url, "api_key": "sk-ant", "models": ["claude-up"],
          "transformer": {"use": ["anthropic"]}},
         openai_provider(vision_up.url, "vision", ["qwen-vl"])],
        {"default": "claude,claude-up", "image": "vision,qwen-vl"})
    ccr = await ccr_server(config)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        first = await client.messages.create(model="ds,reasoner", max_tokens=100,
                                             messages=[{"role": "user", "content": "What colour?"}])
        thinking = [b.model_dump() for b in first.content if b.type == "thinking"]
        assert thinking and thinking[0]["signature"].startswith("ccr1:")
        turn = [{"role": "user", "content": [IMAGE, {"type": "text", "text": "What colour?"}]},
                {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                {"role": "user", "content": "And now?"}]
        second = await client.messages.create(model="claude-sonnet-5", max_tokens=100, messages=turn)
    assert second.content[0].text == "Native answer"
    sent = json.dumps(claude_up.recorder.last)
    assert "ccr1:" not in sent and "[Image #1]" in sent
    assert vision_up.recorder.requests == []  # the native model did not ask for the image


async def test_malformed_stream_chunk_ends_the_stream_with_an_error(proxy):
    """A chunk that is not JSON is not skipped: the client learns of it (Anthropic and OpenAI)."""
    payload = (sse(chunk({"role": "assistant", "content": "Hel"}), done=False) + b"data: {not json\n\n"
               + sse(chunk({"content": "lo"}), chunk({}, finish_reason="stop")))
    pair = await proxy(stream_handler(payload))
    status, _, raw = await raw_post(f"{pair.ccr.url}/v1/messages", {
        "model": "claude-sonnet-5", "max_tokens": 20, "stream": True,
        "messages": [{"role": "user", "content": "hi"}]})
    events = parse_sse(raw)
    assert status == 200 and events[-1][0] == "error"
    assert "not JSON" in events[-1][1]["error"]["message"] and "fake,gpt-test" in events[-1][1]["error"]["message"]
    assert "message_stop" not in [name for name, _ in events]

    status, _, raw = await raw_post(f"{pair.ccr.url}/v1/chat/completions", {
        "model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200 and b"[DONE]" not in raw and b"not JSON" in raw


async def test_adjusters_and_observers_see_every_request(proxy):
    """A registered adjuster changes the request before it is sent; observers get one record
    per request from both front doors, bodies only when asked."""
    pair = await proxy()
    seen: list[RecordedExchange] = []

    def adjust(prepared: PreparedRequest) -> None:
        assert prepared.route is not None and prepared.route.name == "fake,gpt-test"
        prepared.body["temperature"] = 0.125

    pair.ccr.app[REQUEST_ADJUSTERS].append(adjust)
    pair.ccr.app[RECORD_OBSERVERS].append(seen.append)
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k", max_retries=0) as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=20,
                                     messages=[{"role": "user", "content": "hi"}])
    assert pair.sent["temperature"] == 0.125
    async with openai.AsyncOpenAI(base_url=f"{pair.ccr.url}/v1", api_key="k", max_retries=0) as client:
        await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert [e.record.front for e in seen] == ["anthropic", "openai"]
    first = seen[0].record
    assert (first.provider, first.model, first.status, first.input_tokens, first.output_tokens) == \
        ("fake", "gpt-test", 200, 20, 5)
    assert first.latency_ms >= (first.ttfb_ms or 0) > 0 and first.started_at > 0
    assert all(e.client_body is None and e.reply is None for e in seen)
