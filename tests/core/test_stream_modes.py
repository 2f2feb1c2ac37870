"""Stream or JSON is decided by what the client asked for AND what the provider's body is,
not by the provider's content type alone (claude-code-router issue #454)."""

from __future__ import annotations

import anthropic
import pytest

from tests.helpers import parse_sse, sse

from .util import USAGE, chat_reply, chunk, json_handler, raw_post, stream_handler

REQUEST = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
STREAM = sse(chunk({"content": "Hel"}), chunk({"content": "lo"}), chunk(finish_reason="stop", usage=USAGE))
JSON = chat_reply("Hello", usage=USAGE)

# (id, upstream handler factory)
UPSTREAMS = [
    ("json", lambda: json_handler(JSON)),
    ("sse", lambda: stream_handler(STREAM)),
    ("sse-as-application-json", lambda: stream_handler(STREAM, "application/json")),
    ("sse-without-content-type", lambda: stream_handler(STREAM, "application/octet-stream")),
    ("json-as-event-stream", lambda: stream_handler(__import__("json").dumps(JSON).encode(), "text/event-stream")),
    ("sse-with-leading-comment", lambda: stream_handler(b": OPENROUTER PROCESSING\n\n" + STREAM, piece=3)),
    ("sse-crlf", lambda: stream_handler(STREAM.replace(b"\n", b"\r\n"), piece=4)),
]


@pytest.mark.parametrize("make", [u[1] for u in UPSTREAMS], ids=[u[0] for u in UPSTREAMS])
@pytest.mark.parametrize("client_stream", [False, True], ids=["client-json", "client-stream"])
async def test_every_combination(proxy, make, client_stream):
    pair = await proxy(make())
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k") as client:
        if client_stream:
            async with client.messages.stream(**REQUEST) as stream:
                message = await stream.get_final_message()
        else:
            message = await client.messages.create(**REQUEST)
    assert message.content[0].text == "Hello"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 5)
    assert pair.sent["stream"] is client_stream


async def test_client_stream_gets_sse_for_json_upstream(proxy):
    pair = await proxy(json_handler(JSON))
    status, headers, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert [name for name, _ in parse_sse(raw)] == [
        "message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"]


async def test_client_json_gets_json_for_sse_upstream(proxy):
    pair = await proxy(stream_handler(STREAM))
    status, headers, raw = await raw_post(pair.ccr.url + "/v1/messages", REQUEST)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    body = __import__("json").loads(raw)
    assert body["content"] == [{"type": "text", "text": "Hello"}] and body["type"] == "message"


@pytest.mark.parametrize("first", [b"da", b"d", b"\xef\xbb\xbf", b"   \n"], ids=["da", "d", "bom", "blank"])
async def test_sse_sniffed_across_tiny_first_reads(proxy, first):
    """The first read may end anywhere: ccr keeps reading until the start is unambiguous."""
    import asyncio

    from aiohttp import web

    payload = first + (STREAM[len(first):] if STREAM.startswith(first) else STREAM)

    async def handler(request):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(payload[:len(first)])
        await asyncio.sleep(0.05)  # make the first read end there (a pause, not synchronisation)
        await response.write(payload[len(first):])
        return response

    pair = await proxy(handler)
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k") as client:
        message = await client.messages.create(**REQUEST)
    assert message.content[0].text == "Hello"
