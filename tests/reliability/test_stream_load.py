"""Streams under load: clients that abort leave nothing behind, and 256 concurrent streams each
arrive byte-exact, with memory back to its baseline afterwards.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tracemalloc
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from .conftest import APIKEY, Live

pytestmark = pytest.mark.slow


def _pieces(seed: int) -> list[str]:
    """What the provider streams for request `seed`: varied, with multi-byte text and escapes."""
    return [f"«{seed}:{i}» line {i}\n\"quoted\" \\ tab\t é 🎉 " * (1 + (seed + i) % 5) for i in range(30)]


def _chunk(**delta: Any) -> bytes:
    data = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class Streamer:
    """A provider that streams `_pieces(seed)` (the seed is the user's text), `pause` s apart,
    and counts the replies it is in the middle of."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.active = 0
        self.served = 0

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seed = int(body["messages"][-1]["content"])
        self.active += 1
        self.served += 1
        try:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(_chunk(role="assistant", content=""))
            for piece in _pieces(seed):
                await response.write(_chunk(content=piece))
                if self.pause:
                    await asyncio.sleep(self.pause)
            finish = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test",
                      "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 5, "completion_tokens": 30}}
            await response.write(f"data: {json.dumps(finish)}\n\ndata: [DONE]\n\n".encode())
            return response
        finally:
            self.active -= 1


def _request(seed: int) -> dict[str, Any]:
    return {"model": "fake,gpt-test", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": str(seed)}]}


async def _stream_text(session: aiohttp.ClientSession, url: str, seed: int) -> str:
    """The text of one streamed reply, read from the raw SSE bytes."""
    async with session.post(url + "/v1/messages", json=_request(seed), headers={"x-api-key": APIKEY}) as resp:
        assert resp.status == 200
        raw = await resp.read()
    text, kinds = [], []
    for block in raw.decode("utf-8").split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "event" not in lines:
            continue
        kinds.append(lines["event"])
        data = json.loads(lines["data"])
        if lines["event"] == "content_block_delta" and data["delta"]["type"] == "text_delta":
            text.append(data["delta"]["text"])
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds[-3:]
    return "".join(text)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _settle(check: Any, rounds: int = 400) -> bool:
    for _ in range(rounds):
        if check():
            return True
        await asyncio.sleep(0.025)
    return bool(check())


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts file descriptors in /proc")
async def test_a_thousand_aborted_streams_leave_no_connection_or_fd(live: Any) -> None:
    upstream = Streamer(pause=0.05)
    ccr: Live = await live(upstream)
    async with aiohttp.ClientSession() as session:
        await _stream_text(session, ccr.url, 0)  # warm up: connection pools, tokenizer, imports
    gc.collect()
    baseline = _fds()
    gate = asyncio.Semaphore(50)

    async def abort(seed: int) -> None:
        async with gate, aiohttp.ClientSession() as session:
            async with session.post(ccr.url + "/v1/messages", json=_request(seed),
                                    headers={"x-api-key": APIKEY}) as resp:
                assert resp.status == 200
                async for line in resp.content:
                    if b"content_block_delta" in line:
                        break  # hang up in the middle of the reply
                resp.close()

    await asyncio.gather(*(abort(i) for i in range(1000)))
    assert upstream.served == 1001
    assert await _settle(lambda: upstream.active == 0), f"{upstream.active} provider replies still open"
    gc.collect()
    assert await _settle(lambda: _fds() <= baseline + 4), f"fds: {baseline} before, {_fds()} after"


async def test_256_concurrent_streams_are_byte_exact_and_memory_returns(live: Any) -> None:
    upstream = Streamer(pause=0.002)
    ccr: Live = await live(upstream)
    expected = {seed: "".join(_pieces(seed)) for seed in range(256)}
    async with aiohttp.ClientSession() as session:
        assert await _stream_text(session, ccr.url, 0) == expected[0]  # warm up
    gc.collect()
    tracemalloc.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            results = await asyncio.gather(*(_stream_text(session, ccr.url, seed) for seed in range(256)))
            _, peak = tracemalloc.get_traced_memory()
        assert all(results[seed] == expected[seed] for seed in range(256))
        del results

        def released() -> bool:
            gc.collect()
            return tracemalloc.get_traced_memory()[0] < 2 * 1024 * 1024

        # ccr's idle provider connections (one per stream that ran at once) close after the
        # client session's keep-alive timeout, 15 s; everything else goes at once
        await _settle(released, rounds=30 * 40)
        after, _ = tracemalloc.get_traced_memory()
        top = tracemalloc.take_snapshot().statistics("lineno")[:5]
    finally:
        tracemalloc.stop()
    assert upstream.served == 257 and upstream.active == 0
    # What 256 streams allocated at once is given back (within 2 MiB: caches, log buffers).
    assert after < 2 * 1024 * 1024, (f"{after / 1e6:.2f} MB kept of a {peak / 1e6:.1f} MB peak; "
                                     + "; ".join(str(stat) for stat in top))
