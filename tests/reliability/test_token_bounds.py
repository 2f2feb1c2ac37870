"""D6 and D7: token counting never holds the event loop, and its cache is bounded in bytes.

D6: 20 MB of spaces on count_tokens stalled every request, /health included, for 18.8 s; with
Router.longContext set, 10 MB on /v1/messages stalled everything for 8 s. D7: the cache kept
20,000 whole texts (200 distinct 1 MB texts added 231 MB, never released).
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from typing import Any

import pytest

from ccr.errors import CCRError
from ccr.proxy.tokens import CACHE_BYTES, ENTRY_BYTES, TokenCounter
from ccr.server.keys import RUNTIME

from .conftest import Live


def _body(text: str) -> dict[str, Any]:
    """A request the Router rules route (not an explicit "provider,model")."""
    return {"model": "claude-sonnet-4-5", "max_tokens": 10,
            "messages": [{"role": "user", "content": text}]}


def _prose(n_bytes: int, seed: int = 0) -> str:
    words = [f"w{seed}x{i % 997}" for i in range(n_bytes // 8)]
    return " ".join(words)[:n_bytes]


async def _answered_while_counting(ccr: Live, path: str, body: dict[str, Any]) -> tuple[int, bool]:
    """Start the heavy request, then ask `/` for the version: True when that answer came back
    while the heavy request was still being served (an ordering fact, not a time)."""
    heavy = asyncio.create_task(ccr.call("POST", path, json.dumps(body).encode()))
    answered_first = False
    for _ in range(400):
        await asyncio.sleep(0.005)
        if ccr.app[RUNTIME].router.counter._pending:  # handed to the pool: the loop is free
            status, _ = await ccr.call("GET", "/")
            answered_first = status == 200 and not heavy.done()
            break
    status, _ = await heavy
    return status, answered_first


async def test_d6_count_tokens_does_not_hold_the_loop(live: Any) -> None:
    ccr: Live = await live()
    status, answered_first = await _answered_while_counting(
        ccr, "/v1/messages/count_tokens", _body(_prose(1_500_000)))
    assert status == 200
    assert answered_first


async def test_d6_long_context_rule_does_not_hold_the_loop(live: Any) -> None:
    ccr: Live = await live(Router={"default": "fake,gpt-test", "longContext": "fake,gpt-test",
                                   "longContextThreshold": 1000})
    # under 1 MiB: larger bodies make aiohttp warn when ccr sends them on to the provider
    status, answered_first = await _answered_while_counting(ccr, "/v1/messages", _body(_prose(900_000)))
    assert status == 200
    assert answered_first


async def test_d6_small_requests_are_not_counted_at_all(live: Any) -> None:
    """Fewer bytes than the threshold cannot be more tokens: no tokenizing for the router."""
    ccr: Live = await live(Router={"default": "fake,gpt-test", "longContext": "fake,gpt-test",
                                   "longContextThreshold": 100_000})
    status, _ = await ccr.call("POST", "/v1/messages", json.dumps(_body(_prose(90_000))).encode())
    assert status == 200
    assert ccr.app[RUNTIME].router.counter.encoded == 0


async def test_d6_a_full_counting_queue_answers_529() -> None:
    counter = TokenCounter(workers=1, queue=1)
    bodies = [_body(_prose(300_000, seed)) for seed in range(4)]
    results = await asyncio.gather(*(counter.count(b) for b in bodies), return_exceptions=True)
    refused = [r for r in results if isinstance(r, CCRError)]
    counted = [r for r in results if isinstance(r, int)]
    assert len(counted) == 2 and len(refused) == 2
    assert all(r.status == 529 and r.error_type == "overloaded_error" for r in refused)
    assert counted == [counter.request(bodies[0]), counter.request(bodies[1])]


async def test_d6_counts_off_the_loop_equal_counts_on_it() -> None:
    pooled, inline = TokenCounter(), TokenCounter()
    body = _body("héllo wörld " * 5000)
    assert await pooled.count(body) == inline.request(body)
    assert await pooled.count(_body("hi")) == inline.request(_body("hi"))


def test_d7_the_cache_keeps_digests_within_its_byte_bound() -> None:
    counter = TokenCounter(cache_bytes=100 * ENTRY_BYTES)
    for i in range(1000):
        counter.text(f"distinct text number {i} " * 3)
    assert counter.cached == 100
    assert counter.cache_bytes <= 100 * ENTRY_BYTES
    assert all(len(key) == 16 for key in counter._cache)  # digests, never the texts
    assert TokenCounter().cache_bytes == 0 and CACHE_BYTES <= 8 * 1024 * 1024


def test_d7_distinct_large_texts_are_not_kept() -> None:
    counter = TokenCounter()
    counter.text("warm up the encoder")
    gc.collect()
    tracemalloc.start()
    try:
        for seed in range(12):
            counter.text(_prose(256 * 1024, seed))
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counter.cached == 13
    assert retained < 256 * 1024  # 3 MB of text went through; well under one text is left


@pytest.mark.parametrize("text", ["", "a", "hello world", "<|endoftext|> special", "x" * 5000])
def test_cached_counts_are_the_counts(text: str) -> None:
    counter = TokenCounter()
    first = counter.text(text)
    assert counter.text(text) == first == TokenCounter().text(text)


@pytest.mark.parametrize("seed", range(6))
def test_long_texts_counted_in_pieces_count_exactly(seed: int) -> None:
    """Long texts are tokenized in pieces (short GIL holds); the sum equals the whole's count."""
    import random

    from ccr.proxy.tokens import PIECE, _pieces

    rng = random.Random(seed)
    alphabet = ["a", "b", " ", "  ", "\n", "\t", "é", "🎉", "1", "23", ".", "!", "'s", "'S", "\r\n",
                "  \n ", "<|endoftext|>", "中文", "x" * 30, " 'll", "\u00a0", "\u2028"]
    text = "".join(rng.choice(alphabet) for _ in range(4 * PIECE // 3))
    pieces = list(_pieces(text))
    assert len(pieces) > 2 and "".join(pieces) == text
    counter = TokenCounter()
    whole = len(counter._encoding.encode(text, disallowed_special=()))
    assert counter.text(text) == whole
