"""Property tests: however the provider's bytes are cut, ccr decodes the same events and
rebuilds the same Anthropic message.

A recorded OpenAI-style stream (reasoning, multi-byte UTF-8, raw U+2028 inside JSON strings,
CRLF line ends, comments, a data field split over two lines, tool calls, usage) is cut at
random byte positions, including inside a UTF-8 character and between CR and LF.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ccr.formats.assemble import accumulate
from ccr.formats.events import StreamSummary, anthropic_events
from ccr.server.app import create_app
from ccr.sse import SSEDecoder, SSEEvent
from tests.helpers import parse_sse

from .util import chunk, tool_call_delta


def _data(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False)  # raw non-ASCII (and U+2028) on the wire


def recorded() -> bytes:
    chunks = [
        chunk({"role": "assistant", "reasoning_content": "Grüße, 你好 — denke nach 🎉"}),
        chunk({"reasoning_content": " line\u2028separator and\u2029para\u0085nel"}),
        chunk({"content": "Antwort: naïve café ☕ "}),
        chunk({"content": "€uro\u2028next"}),
        chunk({"tool_calls": [tool_call_delta(0, id="call_ü", name="Write", arguments='{"text": "Zeile')]}),
        chunk({"tool_calls": [tool_call_delta(0, arguments=' ✓ 🎉"}')]}),
        chunk({"tool_calls": [tool_call_delta(1, id="call_2", name="Bash", arguments='{"command":"ls"}')]}),
        chunk(finish_reason="tool_calls"),
        chunk(choices=False, usage={"prompt_tokens": 33, "completion_tokens": 21, "total_tokens": 54}),
    ]
    out = [": keep-alive comment\r\n\r\n"]
    for i, c in enumerate(chunks):
        text = _data(c)
        if i == 2:  # one event's data split over two data lines (joined with a newline)
            half = text.index(",") + 1
            out.append(f"data: {text[:half]}\r\ndata: {text[half:]}\r\n\r\n")
        elif i == 4:
            out.append(f"event: message\nid: 4\ndata:{text}\n\n")  # no space after the colon
        else:
            out.append(f"data: {text}\r\n\r\n")
    out.append("data: [DONE]\r\n\r\n")
    return "".join(out).encode()


PAYLOAD = recorded()
MULTIBYTE_CUTS = [i for i in range(1, len(PAYLOAD)) if PAYLOAD[i] & 0xC0 == 0x80]  # inside a character
CRLF_CUTS = [i for i in range(1, len(PAYLOAD)) if PAYLOAD[i - 1:i + 1] == b"\r\n"]  # between CR and LF


def pieces(cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(set(c for c in cuts if 0 < c < len(PAYLOAD))), len(PAYLOAD)]
    return [PAYLOAD[a:b] for a, b in itertools.pairwise(points)]


def decode(parts: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for part in parts:
        events.extend(decoder.feed(part))
    return events + decoder.close()


WHOLE = decode([PAYLOAD])


def test_recording_is_what_we_think():
    assert len(WHOLE) == 10 and WHOLE[-1].data == "[DONE]"
    assert "\u2028" in WHOLE[1].data and "\u2028" in WHOLE[3].data
    assert WHOLE[4].id == "4"
    assert MULTIBYTE_CUTS and CRLF_CUTS


def test_every_single_cut_point():
    """Cut once at every byte position: the events never change."""
    for cut in range(1, len(PAYLOAD)):
        assert decode(pieces([cut])) == WHOLE, cut


def test_byte_by_byte():
    assert decode([PAYLOAD[i:i + 1] for i in range(len(PAYLOAD))]) == WHOLE


cut_lists = st.lists(st.one_of(st.integers(1, len(PAYLOAD) - 1), st.sampled_from(MULTIBYTE_CUTS),
                               st.sampled_from(CRLF_CUTS)), max_size=60)


async def rebuild(parts: list[bytes]) -> tuple[list[tuple[str, Any]], dict]:
    """Decoder -> JSON chunks -> Anthropic events -> message, as the pipeline runs them."""
    summary = StreamSummary()

    async def chunks():
        for event in decode(parts):
            if event.data == "[DONE]":
                summary.done = True
                return
            yield json.loads(event.data)

    events = [e async for e in anthropic_events(chunks(), model="m", provider="p", request={}, summary=summary)]

    async def replay():
        for e in events:
            yield e

    return events, await accumulate(replay())


def _stable(events: list[tuple[str, Any]], message: dict) -> tuple[Any, Any]:
    """Message ids are fresh per run: compare everything else."""
    events = [(k, {**d, "message": {**d["message"], "id": "-"}} if k == "message_start" else d) for k, d in events]
    return events, {**message, "id": "-"}


EXPECTED = _stable(*asyncio.run(rebuild([PAYLOAD])))


def test_expected_message():
    message = EXPECTED[1]
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use", "tool_use"]
    assert message["content"][0]["thinking"] == "Grüße, 你好 — denke nach 🎉 line\u2028separator and\u2029para\u0085nel"
    assert message["content"][1]["text"] == "Antwort: naïve café ☕ €uro\u2028next"
    assert message["content"][2]["input"] == {"text": "Zeile ✓ 🎉"}
    assert message["usage"]["output_tokens"] == 21 and message["stop_reason"] == "tool_use"


@settings(max_examples=300, deadline=None)
@given(cut_lists)
@example(MULTIBYTE_CUTS)
@example(CRLF_CUTS)
def test_random_cuts_rebuild_the_same_message(cuts):
    parts = pieces(cuts)
    assert decode(parts) == WHOLE
    assert _stable(*asyncio.run(rebuild(parts))) == EXPECTED


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=50))
def test_decoder_splits_lines_only_on_cr_and_lf(text):
    """U+2028, U+2029, U+0085, VT, FF ... inside data stay data (str.splitlines would split)."""
    value = text.replace("\r", "").replace("\n", "")
    raw = f"data: {value}\n\n".encode()
    assert decode([raw[:len(raw) // 2], raw[len(raw) // 2:]]) == [SSEEvent("message", value, None)]


# --- the same property end to end: fake provider writes the pieces, ccr serves the client ----

async def through_ccr(parts: list[bytes]) -> list[tuple[str, Any]]:
    async def provider(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for part in parts:
            await response.write(part)
        return response

    upstream_app = web.Application()
    upstream_app.router.add_post("/v1/chat/completions", provider)
    upstream = TestServer(upstream_app, host="127.0.0.1")
    await upstream.start_server()
    from ccr.config import parse
    config = parse({"Providers": [{"name": "p", "api_base_url": f"http://127.0.0.1:{upstream.port}/v1/chat/completions",
                                   "api_key": "", "models": ["m"]}], "Router": {"default": "p,m"}})
    ccr = TestServer(create_app(config), host="127.0.0.1")
    await ccr.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{ccr.port}/v1/messages", json={
                    "model": "x", "max_tokens": 5, "stream": True,
                    "messages": [{"role": "user", "content": "hi"}]}) as resp:
                return parse_sse(await resp.read())
    finally:
        await ccr.close()
        await upstream.close()


END_TO_END = _stable(asyncio.run(through_ccr([PAYLOAD])), {})[0]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut_lists)
@example(MULTIBYTE_CUTS)
def test_random_cuts_end_to_end(cuts):
    events = _stable(asyncio.run(through_ccr(pieces(cuts))), {})[0]
    assert events == END_TO_END
    assert [k for k, _ in events][-2:] == ["message_delta", "message_stop"]


# --- the decoder against the SSE specification, on generated streams ---------------------------

def spec_decode(raw: bytes) -> list[SSEEvent]:
    """The WHATWG event-stream algorithm, line by line, on the whole input at once."""
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    lines, start, i = [], 0, 0
    while i < len(text):
        if text[i] in "\r\n":
            lines.append(text[start:i])
            i += 2 if text[i] == "\r" and text[i + 1:i + 2] == "\n" else 1
            start = i
        else:
            i += 1
    tail = text[start:]
    events, name, data, has_data, last_id = [], "", [], False, None

    def dispatch() -> None:
        nonlocal name, data, has_data
        if has_data:
            events.append(SSEEvent(name or "message", "\n".join(data), last_id))
        name, data, has_data = "", [], False

    for line in [*lines, *([tail] if tail else []), ""]:  # end of stream dispatches what is pending
        if not line:
            dispatch()
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        value = value[1:] if colon and value.startswith(" ") else value
        if field == "data":
            data.append(value)
            has_data = True
        elif field == "event":
            name = value
        elif field == "id" and "\0" not in value:
            last_id = value
    return events


_field_lines = st.one_of(
    st.builds(lambda v: f"data: {v}", st.text(alphabet="ab{}\":ü🎉 \u2028", max_size=8)),
    st.builds(lambda v: f"data:{v}", st.text(alphabet="xy ", max_size=4)),
    st.sampled_from(["data", "data:", "event: delta", "event:", "id: 7", ": comment", "retry: 10",
                     "unknown: x", "", "data: [DONE]"]),
)
_streams = st.tuples(st.lists(_field_lines, max_size=25),
                     st.lists(st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"]), min_size=1, max_size=25),
                     st.booleans())


@settings(max_examples=400, deadline=None)
@given(_streams, st.lists(st.integers(1, 400), max_size=12))
def test_decoder_matches_the_specification(stream, cuts):
    """Mostly LF streams (the decoder's block fast path) with CR, CRLF and blank lines mixed in,
    cut anywhere: the decoder finds exactly the events the specification's algorithm does."""
    lines, breaks, terminated = stream
    text = "".join(line + breaks[i % len(breaks)] for i, line in enumerate(lines))
    raw = (text + ("\n" if terminated else "")).encode()
    points = [0, *sorted({c for c in cuts if c < len(raw)}), len(raw)]
    assert decode([raw[a:b] for a, b in itertools.pairwise(points)]) == spec_decode(raw)
