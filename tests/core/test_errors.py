"""Provider failures reach the client in the Anthropic error shape, named and never silent."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import anthropic
import pytest
from aiohttp import web

from tests.helpers import free_port, make_config, openai_provider, parse_sse, sse

from .util import chunk, raw_post, stream_handler

REQUEST = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def openai_error(status: int, message: str, headers: dict | None = None):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": message, "type": "x", "code": None}},
                                 status=status, headers=headers)
    return handler


# (upstream status, our status, error type, SDK exception)
STATUSES = [
    (400, 400, "invalid_request_error", anthropic.BadRequestError),
    (401, 502, "api_error", anthropic.APIStatusError),  # our key was refused: not the client's fault
    (404, 404, "not_found_error", anthropic.NotFoundError),
    (429, 429, "rate_limit_error", anthropic.RateLimitError),
    (500, 500, "api_error", anthropic.InternalServerError),
    (503, 529, "overloaded_error", anthropic.InternalServerError),
    (529, 529, "overloaded_error", anthropic.InternalServerError),
]


@pytest.mark.parametrize("upstream,status,kind,exc", STATUSES, ids=[str(s[0]) for s in STATUSES])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_upstream_status_mapping(proxy, upstream, status, kind, exc, stream):
    pair = await proxy(openai_error(upstream, f"provider says {upstream}"))
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k", max_retries=0) as client:
        with pytest.raises(exc) as caught:
            if stream:
                async with client.messages.stream(**REQUEST) as s:
                    await s.get_final_message()
            else:
                await client.messages.create(**REQUEST)
    error = caught.value
    assert error.status_code == status
    assert error.body["type"] == "error" and error.body["error"]["type"] == kind
    message = error.body["error"]["message"]
    assert f"provider says {upstream}" in message
    assert "fake,gpt-test" in message and str(upstream) in message
    assert "sk-upstream-secret" not in message


async def test_retry_after_is_passed_on(proxy):
    pair = await proxy(openai_error(429, "slow down", {"Retry-After": "7"}))
    status, headers, _raw = await raw_post(pair.ccr.url + "/v1/messages", REQUEST)
    assert status == 429 and headers["retry-after"] == "7"


async def test_provider_echoing_its_key_is_redacted(proxy):
    pair = await proxy(openai_error(401, "Incorrect API key provided: sk-upstream-secret."))
    _status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", REQUEST)
    assert b"sk-upstream-secret" not in raw and b"Incorrect API key provided" in raw


async def test_non_json_error_body(proxy):
    async def handler(request):
        return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")
    pair = await proxy(handler)
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", REQUEST)
    body = json.loads(raw)
    assert status == 502 and body["error"]["type"] == "api_error"
    assert "Bad Gateway" in body["error"]["message"] and "502" in body["error"]["message"]


async def test_error_object_with_200(proxy):
    pair = await proxy(lambda r: _json({"error": {"message": "quota exhausted", "code": 1008}}))
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", REQUEST)
    body = json.loads(raw)
    assert status == 502 and "quota exhausted" in body["error"]["message"]


async def test_reply_that_is_not_json(proxy):
    async def handler(request):
        return web.Response(text="definitely not json", content_type="application/json")
    pair = await proxy(handler)
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", REQUEST)
    assert status == 502 and b"not JSON" in raw and b"fake,gpt-test" in raw


@pytest.mark.parametrize("stream", [False, True])
async def test_connection_refused(ccr_server, stream):
    url = f"http://127.0.0.1:{free_port()}/v1/chat/completions"
    ccr = await ccr_server(make_config([openai_provider(url)], {"default": "fake,gpt-test"}))
    status, _, raw = await raw_post(ccr.url + "/v1/messages", {**REQUEST, "stream": stream})
    body = json.loads(raw)
    assert status == 502 and body["error"]["type"] == "api_error"
    assert "fake,gpt-test" in body["error"]["message"] and "cannot connect" in body["error"]["message"]


def stalling(first: bytes | None = None):
    """Answer nothing (or one chunk) and then wait until ccr gives up and hangs up."""
    async def handler(request: web.Request) -> web.StreamResponse:
        if first is None:
            await asyncio.Event().wait()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(first)
        await asyncio.Event().wait()
        return response
    return handler


@pytest.mark.parametrize("stream", [False, True])
async def test_timeout_before_reply(proxy, stream):
    pair = await proxy(stalling(), API_TIMEOUT_MS=1000)
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": stream})
    body = json.loads(raw)
    assert status == 504 and body["error"]["type"] == "timeout_error"
    assert "API_TIMEOUT_MS=1000" in body["error"]["message"] and "fake,gpt-test" in body["error"]["message"]
    await asyncio.wait_for(pair.up.recorder.disconnected.wait(), 10)  # and ccr hung up on it


async def test_timeout_mid_stream_ends_with_error_event(proxy):
    pair = await proxy(stalling(sse(chunk({"content": "partial"}), done=False)), API_TIMEOUT_MS=1000)
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    events = parse_sse(raw)
    assert status == 200 and events[0][0] == "message_start"
    assert events[-1][0] == "error" and events[-1][1]["error"]["type"] == "timeout_error"


FIRST = sse(chunk({"content": "Hel"}), done=False)
MID_STREAM_FAILURES = [
    ("error-chunk", sse({"error": {"message": "upstream exploded", "code": 500}})),
    ("error-event", b'event: error\ndata: {"message": "upstream exploded"}\n\n'),
    ("closed-early", b""),
    ("closed-mid-json", b'data: {"id": "x", "choi'),
]


def two_parts(rest: bytes, gate: asyncio.Event):
    """Send the first text, wait until the client has it, then send `rest` and close."""
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(FIRST)
        await gate.wait()
        if rest:
            await response.write(rest)
        return response
    return handler


@pytest.mark.parametrize("rest", [m[1] for m in MID_STREAM_FAILURES], ids=[m[0] for m in MID_STREAM_FAILURES])
async def test_mid_stream_failure_ends_with_error_event(proxy, rest):
    gate = asyncio.Event()
    pair = await proxy(two_parts(rest, gate))
    async with aiohttp.ClientSession() as session:
        async with session.post(pair.ccr.url + "/v1/messages", json={**REQUEST, "stream": True}) as resp:
            assert resp.status == 200
            seen = b""
            while b"text_delta" not in seen:  # the client has the first text ...
                seen += await asyncio.wait_for(resp.content.readany(), 10)
            gate.set()  # ... before the provider fails
            seen += await resp.read()
    events = parse_sse(seen)
    assert [name for name, _ in events[:4]] == ["message_start", "ping", "content_block_start", "content_block_delta"]
    assert events[-1][0] == "error" and events[-1][1]["type"] == "error"
    assert "fake,gpt-test" in events[-1][1]["error"]["message"]
    assert "message_stop" not in [name for name, _ in events]
    # the SDK raises rather than returning a truncated message
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError):
            async with client.messages.stream(**REQUEST) as s:
                await s.get_final_message()
    # a client that asked for JSON gets an HTTP error instead of a truncated message
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", REQUEST)
    assert status == 502 and json.loads(raw)["type"] == "error"


@pytest.mark.parametrize("payload", [FIRST + m[1] for m in MID_STREAM_FAILURES[:2]],
                         ids=[m[0] for m in MID_STREAM_FAILURES[:2]])
async def test_failure_in_the_read_of_the_first_text(proxy, payload):
    """Text and failure in one read: the first text goes out at once (it is not held back for
    the rest of its read), so the failure after it is an `error` event ending the stream."""
    pair = await proxy(stream_handler(payload))
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    events = parse_sse(raw)
    assert status == 200
    assert [name for name, _ in events] == ["message_start", "ping", "content_block_start",
                                            "content_block_delta", "error"]
    assert events[3][1]["delta"]["text"] == "Hel"
    assert "fake,gpt-test" in events[-1][1]["error"]["message"]


async def test_failure_before_first_event_is_an_http_error(proxy):
    """Nothing was sent yet, so the client gets a real status it can retry on."""
    pair = await proxy(stream_handler(sse({"error": {"message": "model overloaded"}}, done=False)))
    status, headers, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    assert status == 502 and headers["Content-Type"].startswith("application/json")
    assert "model overloaded" in json.loads(raw)["error"]["message"]


async def test_empty_stream(proxy):
    pair = await proxy(stream_handler(b"", "text/event-stream"))
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    assert status == 502 and b"fake,gpt-test" in raw


async def _json(body, status=200):
    return web.json_response(body, status=status)
