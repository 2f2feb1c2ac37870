"""A client that goes away closes the upstream request at once, and nothing is buffered:
the client has the first event while the provider is still holding the rest."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from tests.helpers import sse

from .util import chunk

REQUEST = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def first_then_hold(native: bool = False, arrived: asyncio.Event | None = None):
    async def handler(request: web.Request) -> web.StreamResponse:
        if arrived is not None:
            arrived.set()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if native:
            await response.write(b'event: message_start\ndata: {"type":"message_start","message":{"id":"m",'
                                 b'"type":"message","role":"assistant","model":"x","content":[],'
                                 b'"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,'
                                 b'"output_tokens":0}}}\n\n')
        else:
            await response.write(sse(chunk({"content": "first words"}), done=False))
        await asyncio.Event().wait()  # hold the rest until the caller hangs up
        return response
    return handler


@pytest.mark.parametrize("native", [False, True], ids=["openai", "anthropic"])
async def test_client_gone_closes_upstream(proxy, native):
    provider = {"transformer": {"use": ["anthropic"]}} if native else None
    pair = await proxy(first_then_hold(native), provider=provider)
    async with aiohttp.ClientSession() as session:
        resp = await session.post(pair.ccr.url + "/v1/messages", json={**REQUEST, "stream": True})
        seen = b""
        wanted = b"message_start" if native else b"first words"
        while wanted not in seen:  # the first event arrives while the provider holds the rest
            seen += await asyncio.wait_for(resp.content.readany(), 10)
        assert not pair.up.recorder.disconnected.is_set()
        resp.close()  # the client hangs up mid-stream
    await asyncio.wait_for(pair.up.recorder.disconnected.wait(), 10)


async def test_json_client_gone_closes_upstream(proxy):
    arrived = asyncio.Event()
    pair = await proxy(first_then_hold(arrived=arrived))
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(session.post(pair.ccr.url + "/v1/messages", json=REQUEST))
        await asyncio.wait_for(arrived.wait(), 10)  # ccr is talking to the provider
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.wait_for(pair.up.recorder.disconnected.wait(), 10)
