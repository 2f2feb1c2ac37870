"""The fast stream path (`anthropic_frames`, finished frames for plain text deltas) writes the
same bytes as the general one (`json_chunks` -> `anthropic_events` -> `encode_event`), for any
stream: text with quotes, backslashes, control characters, U+2028 and emoji, written raw or
escaped by the provider, chunks whose other fields carry the same text, reasoning, tool calls,
usage, errors, data that is not JSON, and reads cut anywhere."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ccr.formats.events import StreamSummary, anthropic_events, anthropic_frames
from ccr.proxy.upstream import json_chunks
from ccr.sse import encode_event

TEXTS = st.one_of(
    st.sampled_from(["Hel", "lo", " world", 'say "hi"', "back\\slash", "line\n", "tab\t", "sep\u2028x",
                     "nel\u0085", "\u00e9t\u00e9 \U0001f389", "", " ", "ccr", "\x01ctl", "chatcmpl-1",
                     '","x":"', "\u00a0nbsp", "/slash"]),
    st.text(max_size=12))


def _chunk(delta: dict[str, Any] | None, *, finish: str | None = None, usage: Any = None,
           extra: dict[str, Any] | None = None, message: bool = False) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, ("message" if message else "delta"): delta or {},
                              "finish_reason": finish}
    body: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                            "model": "m", "choices": [choice]}
    if usage is not None:
        body["usage"] = usage
    body.update(extra or {})
    return body


@st.composite
def chunks(draw: st.DrawFn) -> list[Any]:
    """A provider's stream: mostly text, with everything else mixed in."""
    out: list[Any] = [_chunk({"role": "assistant", "content": ""})]
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["text"] * 8 + ["role-text", "message-text", "reasoning", "tool", "usage",
                                                    "finish-text", "extra", "two-choices", "error",
                                                    "not-json", "array", "empty", "comment", "error-event"]))
        text = draw(TEXTS)
        if kind == "text":
            out.append(_chunk({"content": text}))
        elif kind == "role-text":
            out.append(_chunk({"role": "assistant", "content": text}))
        elif kind == "message-text":
            out.append(_chunk({"content": text}, message=True))
        elif kind == "reasoning":
            out.append(_chunk({"reasoning_content": text or "r"}))
        elif kind == "tool":
            index = draw(st.integers(0, 1))  # ids differ: a repeated one is replaced by a random one
            out.append(_chunk({"tool_calls": [{"index": index, "id": f"call_{index}",
                                               "function": {"name": "Bash", "arguments": text}}]}))
        elif kind == "usage":
            out.append(_chunk({"content": text}, usage={"prompt_tokens": 3, "completion_tokens": 2}))
        elif kind == "finish-text":
            out.append(_chunk({"content": text}, finish="stop"))
        elif kind == "extra":  # the text again in a field of its own: the slot must not move there
            out.append(_chunk({"content": text}, extra={"note": text, "obfuscation": draw(st.text(max_size=4))}))
        elif kind == "two-choices":
            body = _chunk({"content": text})
            body["choices"].append({"index": 1, "delta": {"content": text}, "finish_reason": None})
            out.append(body)
        elif kind == "error":
            out.append({"error": {"message": f"boom {text}"}})
        else:
            out.append(kind)  # written as is below
    if draw(st.booleans()):
        out.append(_chunk({}, finish="stop", usage={"prompt_tokens": 9, "completion_tokens": 4}))
    return out


def _frame(chunk: Any, style: int) -> bytes:
    if chunk == "not-json":
        return b"data: {not json\n\n"
    if chunk == "array":
        return b"data: [1, 2]\n\n"
    if chunk == "empty":
        return b"data:\n\n"
    if chunk == "comment":
        return b": keep-alive\n\n"
    if chunk == "error-event":
        return b'event: error\ndata: {"type":"overloaded_error","message":"busy"}\n\n'
    if style == 0:
        data = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
    elif style == 1:
        data = json.dumps(chunk)  # spaces, and everything non-ASCII escaped
    else:
        data = json.dumps(chunk, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


def _payload(stream: list[Any], style: int, done: bool) -> bytes:
    return b"".join(_frame(c, style) for c in stream) + (b"data: [DONE]\n\n" if done else b"")


class _Body:
    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    async def chunks(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part


def _bad(data: str) -> None:
    raise ValueError(f"not JSON: {data}")


async def _general(parts: list[bytes]) -> tuple[bytes, str | None, dict[str, int]]:
    summary, out = StreamSummary(), bytearray()
    try:
        async for kind, data in anthropic_events(json_chunks(_Body(parts), summary, None, _bad),  # type: ignore[arg-type]
                                                 model="m", provider="p", request={}, summary=summary):
            out += encode_event(kind, data)
    except Exception as exc:  # whatever it is, both paths must raise it alike
        return bytes(out), f"{type(exc).__name__}: {exc}", summary.usage
    return bytes(out), None, summary.usage


async def _fast(parts: list[bytes]) -> tuple[bytes, str | None, dict[str, int]]:
    summary, out = StreamSummary(), bytearray()
    try:
        async for kind, data in anthropic_frames(_Body(parts).chunks(), model="m", provider="p",
                                                 request={}, summary=summary, on_bad_data=_bad):
            out += data if type(data) is bytes else encode_event(kind, data)
    except Exception as exc:  # whatever it is, both paths must raise it alike
        return bytes(out), f"{type(exc).__name__}: {exc}", summary.usage
    return bytes(out), None, summary.usage


def _cut(payload: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted({c % (len(payload) + 1) for c in cuts}), len(payload)]
    return [payload[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=chunks(), style=st.integers(0, 2), done=st.booleans(), cuts=st.lists(st.integers(0, 10**6), max_size=6))
@example(stream=[_chunk({"role": "assistant", "content": ""}), _chunk({"content": "a"}), _chunk({"content": "b"}),
                 _chunk({"content": '"'}), _chunk({"content": "\u2028"}), _chunk({"content": "x"})],
         style=0, done=True, cuts=[])
@example(stream=[_chunk({"role": "assistant", "content": ""}),  # escapes in holes, in the reads after the first
                 *(_chunk({"content": t}) for t in ["a", "b", 'say "hi"', "line\n", "back\\slash", "tab\t\b\f\r",
                                                      "\x01ctl", "sep\u2028x", "/", "caf\u00e9"] * 6)],
         style=0, done=True, cuts=[1500, 2900])
def test_same_bytes_as_the_general_path(stream: list[Any], style: int, done: bool, cuts: list[int]) -> None:
    parts = _cut(_payload(stream, style, done), cuts)
    assert asyncio.run(_fast(parts)) == asyncio.run(_general(parts))


def test_plain_text_goes_out_as_finished_frames() -> None:
    """Most of a text reply takes the fast path: one frames item per read, after the block opened."""
    stream = [_chunk({"role": "assistant", "content": ""}), *(_chunk({"content": f"w{i} "}) for i in range(50)),
              _chunk({}, finish="stop")]
    payload = _payload(stream, 0, True)

    async def items() -> list[tuple[str, Any]]:
        summary = StreamSummary()
        return [item async for item in anthropic_frames(_Body([payload]).chunks(), model="m",
                                                        provider="p", request={}, summary=summary)]

    got = asyncio.run(items())
    frames = [data for kind, data in got if type(data) is bytes]
    assert [kind for kind, data in got if type(data) is dict] == [
        "message_start", "ping", "content_block_start",
        "content_block_delta",  # "w0 " opens the block: the general path
        "content_block_stop", "message_delta", "message_stop"]
    assert 1 <= len(frames) <= 3  # w1 .. w49: finished frames, one item per slice decoded (512 bytes, then 4 KB)
    assert b"".join(frames).count(b"event: content_block_delta\n") == 49


def test_a_chunk_in_another_shape_is_parsed_again() -> None:
    """The same text in a chunk with other fields, after the slot was learnt, is not taken for
    a plain chunk: a field before the text that differs is seen."""
    stream = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "a"}), _chunk({"content": "b"}),
              _chunk({"content": "c"}, extra={"id": "other"}), _chunk({"content": "d"}, finish="length")]
    parts = [_payload(stream, 0, True)]
    fast, general = asyncio.run(_fast(parts)), asyncio.run(_general(parts))
    assert fast == general and fast[1] is None
    assert b'"stop_reason":"max_tokens"' in fast[0]


def test_text_after_another_block_opens_a_new_one() -> None:
    """Chunks the decoder was told to expect may come while another block is open (here a tool
    call, in a later read than the one the slot was learnt in): the first opens a text block."""
    text = [_chunk({"content": t}) for t in ("a", "b", "c")]
    head = _payload([_chunk({"role": "assistant", "content": ""}), *text], 0, False)
    tool = _chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "Bash", "arguments": "{}"}}]})
    body = _payload([tool, *text, _chunk({"content": '"quoted"'}), *text, _chunk({}, finish="stop")], 0, True)
    for parts in ([head, body], [head, body[:len(body) // 2], body[len(body) // 2:]]):
        fast, general = asyncio.run(_fast(parts)), asyncio.run(_general(parts))
        assert fast == general and fast[1] is None
        assert fast[0].count(b'"content_block":{"type":"text"') == 2
