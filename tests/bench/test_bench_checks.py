"""The benchmark's response checks catch wrong bytes and broken event order, and its fake
upstream speaks OpenAI chat completions well enough for the official SDK."""

from __future__ import annotations

import json

import openai
import pytest

from bench import checks
from bench.upstream import serve
from bench.workloads import MODES, build, reply_pieces, reply_text


def _event(kind: str, **data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, ensure_ascii=False)}\n\n"


def _anthropic_stream(pieces: list[str], *, stop: bool = True) -> bytes:
    out = [_event("message_start", message={"id": "msg_1", "type": "message", "role": "assistant",
                                            "content": [], "model": "m", "usage": {}}),
           _event("ping"),
           _event("content_block_start", index=0, content_block={"type": "text", "text": ""})]
    out += [_event("content_block_delta", index=0, delta={"type": "text_delta", "text": p}) for p in pieces]
    if stop:
        out.append(_event("content_block_stop", index=0))
    out += [_event("message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None},
                   usage={"output_tokens": 3}),
            _event("message_stop")]
    return "".join(out).encode()


def test_a_right_stream_passes() -> None:
    pieces = reply_pieces(20)
    events, problem = checks.anthropic_stream(_anthropic_stream(pieces), reply_text(20))
    assert problem is None
    assert events == 20 + 6


def test_one_wrong_character_is_caught() -> None:
    pieces = reply_pieces(20)
    pieces[11] = pieces[11].replace("\u2028", "\n")  # a line separator "fixed" by a proxy
    _, problem = checks.anthropic_stream(_anthropic_stream(pieces), reply_text(20))
    assert problem is not None and "character 45" in problem


def test_a_missing_block_stop_is_caught() -> None:
    _, problem = checks.anthropic_stream(_anthropic_stream(reply_pieces(5), stop=False), reply_text(5))
    assert problem is not None and "still open" in problem


def test_a_truncated_stream_is_caught() -> None:
    raw = _anthropic_stream(reply_pieces(5))
    _, problem = checks.anthropic_stream(raw[: raw.rindex(b"event: message_stop")], reply_text(5))
    assert problem == "stream ended in state 'delta'"


@pytest.mark.parametrize("mode", ["json", "stream", "paced"])
async def test_fake_upstream_with_the_openai_sdk(mode: str) -> None:
    server = await serve()
    port = server.sockets[0].getsockname()[1]
    body = json.loads(build("small", MODES[mode]).openai_body(1))
    expected = reply_text(MODES[mode].chunks)
    try:
        async with openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench") as client:
            if MODES[mode].stream:
                stream = await client.chat.completions.create(model="m", messages=body["messages"],
                                                              stream=True)
                text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            else:
                reply = await client.chat.completions.create(model="m", messages=body["messages"])
                text = reply.choices[0].message.content
    finally:
        server.close()
        await server.wait_closed()
    assert text == expected
