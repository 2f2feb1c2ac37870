"""Providers that speak Anthropic themselves (`use: ["anthropic"]`): ccr passes through."""

from __future__ import annotations

import json

import anthropic
import pytest
from aiohttp import web

from tests.helpers import parse_sse, start_pair

from .util import raw_post, stream_handler

MESSAGE = {"id": "msg_up_1", "type": "message", "role": "assistant", "model": "claude-up",
           "content": [{"type": "thinking", "thinking": "hm", "signature": "sig-real"},
                       {"type": "text", "text": "Native hi"}],
           "stop_reason": "end_turn", "stop_sequence": None,
           "usage": {"input_tokens": 11, "output_tokens": 4, "cache_read_input_tokens": 3,
                     "cache_creation_input_tokens": 0}}

# Anthropic's own framing, with its odd-but-legal details kept (they must pass unchanged).
NATIVE_STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_up_2","type":"message",'
    b'"role":"assistant","model":"claude-up","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":5}}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Stre\xc3\xa4m"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":7}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


async def start(fake_upstream, ccr_server, handler, use=("anthropic",), **extra):
    pair = await start_pair(fake_upstream, ccr_server, handler, name="claude", model="claude-up", path="/v1/messages",
                            use=list(use), provider={"api_key": "sk-ant-upstream", **extra})
    return pair.up, pair.ccr


HEADERS = {"anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14",
           "x-app": "cli", "User-Agent": "claude-cli/2.1.330 (external, sdk-cli)",
           "X-Claude-Code-Session-Id": "sess-native", "x-api-key": "client-key"}
BODY = {"model": "claude-sonnet-5", "max_tokens": 50, "system": [{"type": "text", "text": "sys",
                                                                   "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "adaptive"}, "output_config": {"effort": "low"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": "{\"session_id\":\"sess-native\"}"},
        "tools": [{"name": "T", "input_schema": {"type": "object"}, "defer_loading": True}],
        "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "env"}]}


@pytest.mark.parametrize("use", [["anthropic"], ["Anthropic"]])
async def test_body_and_headers_pass_through(fake_upstream, ccr_server, use):
    up, ccr = await start(fake_upstream, ccr_server, lambda r: _json(MESSAGE), use)
    status, _headers, raw = await raw_post(ccr.url + "/v1/messages?beta=true", BODY, HEADERS)
    assert status == 200, raw
    assert json.loads(raw) == MESSAGE
    assert up.recorder.last == {**BODY, "model": "claude-up"}  # only the model changed
    sent = {k.lower(): v for k, v in up.recorder.headers[-1].items()}
    for name in ("anthropic-version", "anthropic-beta", "x-app", "user-agent", "x-claude-code-session-id"):
        assert sent[name] == HEADERS[next(h for h in HEADERS if h.lower() == name)]
    assert sent["x-api-key"] == "sk-ant-upstream"
    assert sent["authorization"] == "Bearer sk-ant-upstream"
    assert "client-key" not in json.dumps(sent)


async def test_use_bearer_option(fake_upstream, ccr_server):
    up, ccr = await start(fake_upstream, ccr_server, lambda r: _json(MESSAGE), [["Anthropic", {"UseBearer": True}]])
    status, _, raw = await raw_post(ccr.url + "/v1/messages", BODY, HEADERS)
    assert status == 200, raw
    sent = {k.lower(): v for k, v in up.recorder.headers[-1].items()}
    assert "x-api-key" not in sent and sent["authorization"] == "Bearer sk-ant-upstream"


async def test_stream_bytes_pass_through_and_usage_is_read(fake_upstream, ccr_server):
    _up, ccr = await start(fake_upstream, ccr_server, stream_handler(NATIVE_STREAM, piece=9))
    status, headers, raw = await raw_post(ccr.url + "/v1/messages", {**BODY, "stream": True}, HEADERS)
    assert status == 200 and raw == NATIVE_STREAM
    assert headers["x-ccr-route"].startswith("claude,claude-up")
    # the usage ccr read on the way feeds the session's long-context rule
    from ccr.server.keys import RUNTIME
    assert ccr.app[RUNTIME].router.usage.last("sess-native") == 30


async def test_native_with_sdk_both_modes(fake_upstream, ccr_server):
    _up, ccr = await start(fake_upstream, ccr_server, stream_handler(NATIVE_STREAM))
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k") as client:
        async with client.messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as s:
            streamed = await s.get_final_message()
        # client JSON, provider streams anyway: rebuilt into one message
        whole = await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert streamed.content[0].text == whole.content[0].text == "Streäm"
    assert whole.usage.input_tokens == 25 and whole.usage.output_tokens == 7


async def test_client_stream_provider_json(fake_upstream, ccr_server):
    _up, ccr = await start(fake_upstream, ccr_server, lambda r: _json(MESSAGE))
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k") as client:
        async with client.messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as s:
            message = await s.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].signature == "sig-real" and message.content[1].text == "Native hi"
    assert message.usage.input_tokens == 11


async def test_stream_cut_before_message_stop_ends_with_error(fake_upstream, ccr_server):
    cut = NATIVE_STREAM[:NATIVE_STREAM.index(b"event: content_block_stop") + 45]  # mid-JSON
    _up, ccr = await start(fake_upstream, ccr_server, stream_handler(cut))
    _status, _, raw = await raw_post(ccr.url + "/v1/messages", {**BODY, "stream": True})
    events = parse_sse(raw)  # every event, including the last, must be whole JSON
    assert events[-1][0] == "error"
    assert "claude,claude-up" in events[-1][1]["error"]["message"]
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError):
            async with client.messages.stream(model="m", max_tokens=5,
                                              messages=[{"role": "user", "content": "x"}]) as s:
                await s.get_final_message()


async def test_native_error_keeps_provider_message(fake_upstream, ccr_server):
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}
    _up, ccr = await start(fake_upstream, ccr_server, lambda r: _json(error, 400))
    status, _, raw = await raw_post(ccr.url + "/v1/messages", BODY)
    body = json.loads(raw)
    assert status == 400 and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens: too large" in body["error"]["message"] and "claude,claude-up" in body["error"]["message"]


async def _json(body, status=200):
    return web.json_response(body, status=status)


async def test_ccr_made_thinking_is_not_sent_to_anthropic(fake_upstream, ccr_server):
    """Thinking ccr built from another provider's reasoning has a signature Anthropic would
    reject; real signatures pass unchanged."""
    up, ccr = await start(fake_upstream, ccr_server, lambda r: _json(MESSAGE))
    messages = [{"role": "user", "content": "a"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "from deepseek", "signature": "ccr1:reasoning_content:deepseek"},
                    {"type": "text", "text": "b"}]},
                {"role": "user", "content": "c"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "real", "signature": "EqQBCkYIBxgC"},
                    {"type": "text", "text": "d"}]},
                {"role": "user", "content": "e"}]
    status, _, raw = await raw_post(ccr.url + "/v1/messages", {**BODY, "messages": messages})
    assert status == 200, raw
    sent = up.recorder.last["messages"]
    assert sent[1]["content"] == [{"type": "text", "text": "b"}]
    assert sent[3] == messages[3]


async def test_native_error_object_with_200(fake_upstream, ccr_server):
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    _up, ccr = await start(fake_upstream, ccr_server, lambda r: _json(error))
    status, _, raw = await raw_post(ccr.url + "/v1/messages", BODY)
    assert status == 502 and b"Overloaded" in raw and b"claude,claude-up" in raw


async def test_final_event_without_blank_line(fake_upstream, ccr_server):
    _up, ccr = await start(fake_upstream, ccr_server, stream_handler(NATIVE_STREAM.rstrip(b"\n")))
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k") as client:
        async with client.messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as s:
            message = await s.get_final_message()
    assert message.content[0].text == "Streäm"
