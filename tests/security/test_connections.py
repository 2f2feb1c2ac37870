"""D14: a connection that never completes its request head, or idles between requests, is
closed after IDLE_TIMEOUT_MS (here 1 s; the default is 30 s); a request in progress is not."""

from __future__ import annotations

import asyncio

import anthropic
from aiohttp import web

from .conftest import base_config

WAIT = 20  # seconds; far above the 1 s configured, so only a connection never closed fails


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection. A server that closes while
    bytes the client sent are still unread makes the kernel send a reset rather than a FIN
    (the trickling test hits this when a byte lands just before the cut): closed all the same."""
    data = b""
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


async def test_a_silent_connection_is_closed(ccr_process):
    ccr = await ccr_process(base_config(IDLE_TIMEOUT_MS=1000))
    reader, writer = await asyncio.open_connection("127.0.0.1", int(ccr.url.rsplit(":", 1)[1]))
    try:
        assert await asyncio.wait_for(closed_by_server(reader), WAIT) == b""
    finally:
        writer.close()


async def test_a_head_sent_a_byte_at_a_time_is_cut_off(ccr_process):
    ccr = await ccr_process(base_config(IDLE_TIMEOUT_MS=1000))
    reader, writer = await asyncio.open_connection("127.0.0.1", int(ccr.url.rsplit(":", 1)[1]))

    async def trickle() -> None:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(WAIT * 5):  # never ends the head
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.2)

    sender = asyncio.create_task(trickle())
    try:
        assert await asyncio.wait_for(closed_by_server(reader), WAIT) == b""  # no answer, just closed
    finally:
        sender.cancel()
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed(ccr_process):
    ccr = await ccr_process(base_config(IDLE_TIMEOUT_MS=1000))
    reader, writer = await asyncio.open_connection("127.0.0.1", int(ccr.url.rsplit(":", 1)[1]))
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = await asyncio.wait_for(closed_by_server(reader), WAIT)
        assert data.startswith(b"HTTP/1.1 200")  # answered, then closed once idle
    finally:
        writer.close()


async def test_a_slow_reply_is_not_cut_off(ccr_process, fake_upstream):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2.5)  # longer than IDLE_TIMEOUT_MS: a request in progress is not idle
        return web.json_response({"id": "c1", "object": "chat.completion", "model": "m",
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "late"},
                                               "finish_reason": "stop"}],
                                  "usage": {"prompt_tokens": 1, "completion_tokens": 1}})

    upstream = await fake_upstream(slow)
    raw = base_config(IDLE_TIMEOUT_MS=1000)
    raw["Providers"][0]["api_base_url"] = upstream.url
    ccr = await ccr_process(raw)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="x", max_retries=0) as client:
        message = await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "late"  # type: ignore[union-attr]


async def test_idle_timeout_is_validated(admin_server):
    admin = await admin_server(base_config())
    for value in (0, 10, 10**9, "soon", True):
        status, body, _ = await admin.call("POST", "/api/config", json_body=base_config(IDLE_TIMEOUT_MS=value))
        assert status == 400 and "IDLE_TIMEOUT_MS" in body["error"]["message"], (value, body)
    status, body, _ = await admin.call("POST", "/api/config", json_body=base_config(IDLE_TIMEOUT_MS=5000))
    assert status == 200, body
