"""Large events and long streams cost work linear in their size (D8).

Work is measured as memory allocated while each step runs (tracemalloc's peak above what was
live before the step), summed over the steps: a step that copies everything received so far
(a growing buffer joined again, a growing string extended) allocates that much each time, so
the sum grows with the square of the stream, while linear code stays within a small multiple
of the bytes fed. Deterministic, unlike a timing; the speed itself is measured in bench/.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from ccr.formats import openai_out
from ccr.formats.assemble import accumulate
from ccr.sse import EventBoundary, SSEDecoder, SSEEvent, event_boundary

MB = 1 << 20
READ = 64 * 1024


def _cuts(payload: bytes, size: int = READ) -> list[bytes]:
    return [payload[i:i + size] for i in range(0, len(payload), size)]


def _allocated_per_step(steps: Iterator[Any]) -> list[int]:
    """Run `steps` (a generator doing one step per next()) and say what each step allocated
    beyond the memory live before it."""
    tracemalloc.start()
    try:
        spent = []
        while True:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            try:
                next(steps)
            except StopIteration:
                break
            spent.append(tracemalloc.get_traced_memory()[1] - before)
        return spent
    finally:
        tracemalloc.stop()


def _decode_steps(parts: list[bytes], out: list[SSEEvent]) -> Iterator[None]:
    decoder = SSEDecoder()
    for part in parts:
        out.extend(decoder.feed(part))
        yield
    out.extend(decoder.close())
    yield


BIG_TEXT = "x" * (8 * MB)

STREAMS: dict[str, Callable[[], tuple[bytes, list[str]]]] = {
    # one 8 MB data line (a huge tool argument), LF and CRLF line ends
    "one-line-lf": lambda: (b"data: " + BIG_TEXT.encode() + b"\n\n", [BIG_TEXT]),
    "one-line-crlf": lambda: (b"data: " + BIG_TEXT.encode() + b"\r\n\r\n", [BIG_TEXT]),
    # one 8 MB event made of 100-byte data lines, joined with newlines
    "many-lines": lambda: (
        b"".join(b"data: " + b"y" * 99 + b"\n" for _ in range(8 * MB // 106)) + b"\n",
        ["\n".join(["y" * 99] * (8 * MB // 106))]),
    # a small event, the big one, a small one; the big one without a final blank line
    "big-then-close": lambda: (b'data: {"a":1}\n\nevent: big\ndata: ' + BIG_TEXT.encode(),
                               ['{"a":1}', BIG_TEXT]),
}


@pytest.mark.parametrize("name", list(STREAMS))
def test_one_large_event_is_decoded_in_linear_work(name: str) -> None:
    payload, expected = STREAMS[name]()
    events: list[SSEEvent] = []
    spent = _allocated_per_step(_decode_steps(_cuts(payload), events))
    assert [e.data for e in events] == expected
    # each step holds its read (as text, or as line objects: ~4x for 100-byte lines), and the
    # last the whole event; a quadratic decoder allocates ~len(payload) * reads / 2 (> 1 GB)
    assert sum(spent) < 8 * len(payload) + 64 * READ, (sum(spent), len(payload))
    assert max(spent[:-2]) < 8 * READ  # no read but the last copies the event so far


def test_same_events_however_a_large_event_is_cut() -> None:
    """The events are those of a single read, for reads of every size up to an event's end."""
    payload = (b"data: " + b"z" * 300_000 + b"\r\n" + b"data: tail\r\n\r\n"
               + b"event: e\ndata: " + b"w" * 200_000 + b"\n\n")
    whole = SSEDecoder().feed(payload)
    assert [len(e.data) for e in whole] == [300_005, 200_000] and whole[1].event == "e"
    for size in (1, 7, 4096, 65_536, 300_007):
        events: list[SSEEvent] = []
        parts = _cuts(payload, size) if size > 1 else [*_cuts(payload[:5000], 1), payload[5000:]]
        list(_decode_steps(parts, events))
        assert events == whole, size


@pytest.mark.parametrize(("big", "size"), [(2_000, 1), (2_000, 2), (2_000, 3), (2_000, 5),
                                          (100_000, 4096), (100_000, 70_000)])
def test_event_boundary_passes_the_same_whole_events(big: int, size: int) -> None:
    """EventBoundary cuts raw bytes where a search of everything pending would, read by read."""
    payload = (b"data: " + b"q" * big + b"\r\n\r\n" + b"data: a\n\n" + b"data: b\r\r"
               + b"data: " + b"p" * (big // 2) + b"\n\r\n" + b"data: unfinished")
    cut, pending, passed, expected = EventBoundary(), bytearray(), [], []
    for part in _cuts(payload, size):
        passed.append(cut.feed(part))
        pending += part
        end = event_boundary(pending)
        expected.append(bytes(pending[:end]))
        del pending[:end]
    assert passed == expected
    assert b"".join(passed) + cut.rest() == payload
    assert cut.rest() == bytes(pending) == b"data: unfinished"


# --- gathering a stream for a JSON client ------------------------------------------------------

class _Pause:
    """An awaitable that hands control back to whoever drives the coroutine."""

    def __await__(self) -> Iterator[None]:
        yield


def _async_steps(make: Callable[[AsyncIterator[Any]], Any], items: list[Any], out: list[Any]
                 ) -> Iterator[None]:
    """Drive `make(stream)` (an accumulate) by hand, one item of the stream per step."""
    async def stream() -> AsyncIterator[Any]:
        for item in items:
            await _Pause()
            yield item

    coro = make(stream())
    while True:
        try:
            coro.send(None)
        except StopIteration as done:
            out.append(done.value)
            yield
            return
        yield


PIECE = "t" * 1024
COUNT = 8 * MB // len(PIECE)


def test_anthropic_events_are_gathered_in_linear_work() -> None:
    """8 MB of small text and tool-argument deltas -> one message, for a JSON client."""
    start = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                  "model": "m", "content": [], "usage": {}}}
    events: list[tuple[str, Any]] = [("message_start", start), ("content_block_start", {
        "index": 0, "content_block": {"type": "text", "text": ""}})]
    events += [("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": PIECE}})] * COUNT
    events += [("content_block_stop", {"index": 0}),
               ("content_block_start", {"index": 1, "content_block": {"type": "tool_use", "id": "t",
                                                                       "name": "W", "input": {}}}),
               ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta",
                                                              "partial_json": '{"v":"'}})]
    events += [("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta",
                                                              "partial_json": PIECE}})] * COUNT
    events += [("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta",
                                                              "partial_json": '"}'}}),
               ("content_block_stop", {"index": 1}),
               ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}})]
    out: list[Any] = []
    spent = _allocated_per_step(_async_steps(accumulate, events, out))
    message = out[0]
    assert message["content"][0]["text"] == PIECE * COUNT
    assert message["content"][1]["input"] == {"v": PIECE * COUNT}
    assert message["stop_reason"] == "tool_use" and message["usage"] == {"output_tokens": 9}
    total = 2 * COUNT * len(PIECE)
    # a quadratic gathering allocates about COUNT * total / 2 here (tens of GB)
    assert sum(spent) < 8 * total, (sum(spent), total)


def test_chat_chunks_are_gathered_in_linear_work() -> None:
    """8 MB of small content and tool-argument chunks -> one chat.completion."""
    head = {"id": "c", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""}), *[chunk({"content": PIECE})] * COUNT,
              chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                     "function": {"name": "W", "arguments": ""}}]}),
              *[chunk({"tool_calls": [{"index": 0, "function": {"arguments": PIECE}}]})] * COUNT,
              chunk({}, "tool_calls"), {**head, "choices": [], "usage": {"total_tokens": 3}}]
    out: list[Any] = []
    spent = _allocated_per_step(_async_steps(openai_out.accumulate, chunks, out))
    body = out[0]
    message = body["choices"][0]["message"]
    assert message["content"] == PIECE * COUNT
    assert message["tool_calls"][0]["function"] == {"name": "W", "arguments": PIECE * COUNT}
    assert body["choices"][0]["finish_reason"] == "tool_calls" and body["usage"] == {"total_tokens": 3}
    assert list(message) == ["role", "content", "refusal", "tool_calls"]
    assert json.dumps(body)  # a plain JSON value
    total = 2 * COUNT * len(PIECE)
    assert sum(spent) < 8 * total, (sum(spent), total)
