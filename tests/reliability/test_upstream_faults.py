"""Every way a provider can fail ends, for the client, in a well-formed Anthropic error within
API_TIMEOUT_MS: refused, no headers, a stall before or during the stream, a cut mid-event, and
429/5xx before or after the headers. The official anthropic SDK is the client: what it parses
as an error is well-formed by definition.

The fake provider is a raw TCP server, so it can misbehave below HTTP (close mid-event, send
headers and nothing else).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anthropic
import pytest

from .conftest import APIKEY, UPSTREAM_KEY, Live

TIMEOUT_MS = 1000  # API_TIMEOUT_MS's smallest value
Fault = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _chunk(**delta: Any) -> bytes:
    data = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    return f"data: {json.dumps(data)}\n\n".encode()


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)


def _head(status: int = 200, content_type: str = "text/event-stream", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nConnection: close\r\n{extra}"
            "\r\n").encode()


async def no_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    await asyncio.sleep(30)


async def stall_before_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(_head())
    await writer.drain()
    await asyncio.sleep(30)


async def stall_during_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(_head() + _chunk(role="assistant", content="Hel") + _chunk(content="lo"))
    await writer.drain()
    await asyncio.sleep(30)


async def cut_mid_event(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(_head() + _chunk(role="assistant", content="Hel") + _chunk(content="lo")[:25])
    await writer.drain()
    writer.close()


async def cut_before_any_event(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(_head() + b"data: {\"id\":")
    await writer.drain()
    writer.close()


def status_before_headers(status: int) -> Fault:
    async def fault(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        body = json.dumps({"error": {"message": f"provider says {status} for key {UPSTREAM_KEY}",
                                     "type": "server_error"}}).encode()
        writer.write(_head(status, "application/json", f"Content-Length: {len(body)}\r\nRetry-After: 1\r\n")
                     + body)
        await writer.drain()
        writer.close()
    fault.__name__ = f"status_{status}_before_headers"
    return fault


def error_after_headers(status: int) -> Fault:
    """A 200 stream that starts, then carries the provider's error object (OpenAI style)."""
    async def fault(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        error = {"error": {"message": f"overloaded ({status})", "type": "server_error", "code": status}}
        writer.write(_head() + _chunk(role="assistant", content="Hel")
                     + f"data: {json.dumps(error)}\n\n".encode())
        await writer.drain()
        writer.close()
    fault.__name__ = f"status_{status}_after_headers"
    return fault


FAULTS: list[Fault] = [no_headers, stall_before_stream, stall_during_stream, cut_mid_event,
                       cut_before_any_event, *(status_before_headers(s) for s in (429, 500, 502, 503, 529)),
                       *(error_after_headers(s) for s in (429, 500))]


@pytest.fixture
async def faulty() -> AsyncIterator[Callable[[Fault], Awaitable[str]]]:
    servers: list[asyncio.Server] = []
    handlers: set[asyncio.Task[None]] = set()

    async def start(fault: Fault) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            handlers.add(asyncio.current_task())  # type: ignore[arg-type]
            try:
                await fault(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"

    yield start
    for task in handlers:
        task.cancel()
    for server in servers:
        server.close()
        await server.wait_closed()


def _assert_clean(message: str) -> None:
    assert message
    assert "Traceback" not in message and UPSTREAM_KEY not in message and APIKEY not in message
    assert "/work/" not in message and ".py" not in message


async def _ask(ccr: Live, stream: bool) -> tuple[Exception | None, str]:
    client = anthropic.AsyncAnthropic(base_url=ccr.url, api_key=APIKEY, max_retries=0)
    text = ""
    try:
        if stream:
            async with client.messages.stream(model="gpt", max_tokens=10,
                                              messages=[{"role": "user", "content": "hi"}]) as events:
                async for event in events:
                    if event.type == "text":
                        text += event.text
        else:
            await client.messages.create(model="gpt", max_tokens=10,
                                         messages=[{"role": "user", "content": "hi"}])
    except anthropic.APIError as exc:
        return exc, text
    finally:
        await client.close()
    return None, text


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
async def test_every_fault_ends_in_a_well_formed_error(live: Any, faulty: Any, fault: Fault,
                                                       stream: bool) -> None:
    url = await faulty(fault)
    ccr: Live = await live(API_TIMEOUT_MS=TIMEOUT_MS, KEEPALIVE_MS=200,
                           Providers=[{"name": "fake", "api_base_url": url, "api_key": UPSTREAM_KEY,
                                       "models": ["gpt-test"]}])
    started = time.monotonic()
    error, text = await _ask(ccr, stream)
    elapsed = time.monotonic() - started
    assert error is not None, f"no error reported; text {text!r}"
    assert elapsed < 10 * TIMEOUT_MS / 1000  # a hang guard, not a speed measurement
    if isinstance(error, anthropic.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        inner = body.get("error", body)
        assert isinstance(inner, dict) and inner.get("type") and inner.get("message"), error.body
        _assert_clean(str(inner["message"]))
        # a stream whose headers went out (pings, or the first text) ends with an `error`
        # event, which the SDK raises with the stream's status, 200
        assert error.status_code >= 400 or stream
    else:  # an `error` event in the stream; the SDK parsed it
        _assert_clean(str(error))


async def test_refused_connection_is_a_well_formed_error(live: Any) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ccr: Live = await live(API_TIMEOUT_MS=TIMEOUT_MS, Providers=[
        {"name": "fake", "api_base_url": f"http://127.0.0.1:{port}/v1/chat/completions",
         "api_key": UPSTREAM_KEY, "models": ["gpt-test"]}])
    for stream in (False, True):
        error, _ = await _ask(ccr, stream)
        assert isinstance(error, anthropic.APIStatusError), error
        assert error.status_code in (502, 503)
        _assert_clean(str(error.body))


async def test_usage_in_a_separate_final_chunk_is_kept(live: Any, faulty: Any) -> None:
    """OpenAI's include_usage: the usage comes after finish_reason, in a chunk with no choices."""
    async def usage_last(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        finish = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test",
                  "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        usage = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test", "choices": [],
                 "usage": {"prompt_tokens": 123, "completion_tokens": 45, "total_tokens": 168}}
        writer.write(_head() + _chunk(role="assistant", content="Hello") + f"data: {json.dumps(finish)}\n\n".encode()
                     + f"data: {json.dumps(usage)}\n\n".encode() + b"data: [DONE]\n\n")
        await writer.drain()
        writer.close()

    url = await faulty(usage_last)
    ccr: Live = await live(Providers=[{"name": "fake", "api_base_url": url, "api_key": UPSTREAM_KEY,
                                       "models": ["gpt-test"]}])
    client = anthropic.AsyncAnthropic(base_url=ccr.url, api_key=APIKEY, max_retries=0)
    try:
        async with client.messages.stream(model="gpt", max_tokens=10,
                                          messages=[{"role": "user", "content": "hi"}]) as events:
            final = await events.get_final_message()
        assert final.content[0].text == "Hello"  # type: ignore[union-attr]
        assert final.usage.output_tokens == 45
        assert final.usage.input_tokens == 123
        message = await client.messages.create(model="gpt", max_tokens=10,
                                               messages=[{"role": "user", "content": "hi"}])
        assert message.usage.input_tokens == 123 and message.usage.output_tokens == 45
    finally:
        await client.close()
