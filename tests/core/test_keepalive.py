"""While a provider is silent, ccr keeps the client's stream alive with Anthropic `ping` events."""

from __future__ import annotations

import asyncio

import aiohttp
import anthropic
from aiohttp import web

from tests.helpers import parse_sse, sse

from .util import chunk

REQUEST = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def held(release: asyncio.Event, before: bool = False):
    """Send a first chunk (unless `before`), hold until released, then finish."""
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if not before:
            await response.write(sse(chunk({"content": "Hel"}), done=False))
        await release.wait()
        await response.write(sse(*([chunk({"content": "Hel"})] if before else []),
                                 chunk({"content": "lo"}), chunk(finish_reason="stop")))
        return response
    return handler


async def read_until_pings(resp: aiohttp.ClientResponse, after: bytes, count: int) -> bytes:
    seen = b""
    while not (after in seen and seen[seen.index(after) + len(after):].count(b"event: ping") >= count):
        more = await asyncio.wait_for(resp.content.readany(), 10)
        assert more, seen
        seen += more
    return seen


async def test_pings_while_the_provider_is_silent(proxy):
    release = asyncio.Event()
    pair = await proxy(held(release), KEEPALIVE_MS=100)
    async with aiohttp.ClientSession() as session:
        async with session.post(pair.ccr.url + "/v1/messages", json={**REQUEST, "stream": True}) as resp:
            seen = await read_until_pings(resp, b"Hel", 2)  # two pings after the first text
            release.set()
            seen += await resp.read()
    names = [name for name, _ in parse_sse(seen)]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("ping") >= 3  # the usual one plus the keep-alives


async def test_pings_before_the_first_token_start_the_stream(proxy):
    release = asyncio.Event()
    pair = await proxy(held(release, before=True), KEEPALIVE_MS=100)
    async with aiohttp.ClientSession() as session:
        async with session.post(pair.ccr.url + "/v1/messages", json={**REQUEST, "stream": True}) as resp:
            assert resp.status == 200
            seen = await read_until_pings(resp, b"", 2)
            release.set()
            seen += await resp.read()
    names = [name for name, _ in parse_sse(seen)]
    assert names[:2] == ["ping", "ping"] and "message_start" in names and names[-1] == "message_stop"


async def test_sdk_reads_through_pings(proxy):
    release = asyncio.Event()
    pair = await proxy(held(release), KEEPALIVE_MS=100)
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k") as client:
        async with client.messages.stream(**REQUEST) as stream:
            async for event in stream:
                if event.type == "text" and not release.is_set():  # first text: let pings pile up
                    async with aiohttp.ClientSession() as session:  # a second, raw reader proves pings flow
                        async with session.post(pair.ccr.url + "/v1/messages",
                                                json={**REQUEST, "stream": True}) as resp:
                            await read_until_pings(resp, b"Hel", 2)
                            release.set()
                            await resp.read()
            message = await stream.get_final_message()
    assert message.content[0].text == "Hello"
