"""Provider replies (JSON and streamed) turned into Anthropic messages and events.

The client is the official `anthropic` SDK, so every event ccr sends must be one the SDK
accepts, with the indexes and order it expects.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.helpers import parse_sse, sse

from .util import USAGE, chat_reply, chunk, json_handler, raw_post, stream_handler, tool_call_delta

REQUEST = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


async def via_sdk_stream(url: str, **extra: Any) -> tuple[list[Any], Any]:
    async with anthropic.AsyncAnthropic(base_url=url, api_key="k") as client:
        async with client.messages.stream(**{**REQUEST, **extra}) as stream:
            events = [event async for event in stream]
            message = await stream.get_final_message()
    return events, message


async def via_sdk_json(url: str, **extra: Any) -> Any:
    async with anthropic.AsyncAnthropic(base_url=url, api_key="k") as client:
        return await client.messages.create(**{**REQUEST, **extra})


def raw_types(events: list[Any]) -> list[str]:
    """The wire events (the SDK adds derived `text`/`thinking`/`input_json` events; drop them)."""
    wire = {"message_start", "content_block_start", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop"}
    return [e.type for e in events if e.type in wire]


THINK_TEXT_TOOLS = sse(
    chunk({"role": "assistant", "reasoning_content": "Let me "}),
    chunk({"reasoning_content": "think."}),
    chunk({"content": "I will "}),
    chunk({"content": "look."}),
    chunk({"tool_calls": [tool_call_delta(0, id="call_a", name="Read", arguments="")]}),
    chunk({"tool_calls": [tool_call_delta(0, arguments='{"path": ')]}),
    chunk({"tool_calls": [tool_call_delta(0, arguments='"a.txt"}')]}),
    chunk({"tool_calls": [tool_call_delta(1, id="call_b", name="Bash", arguments='{"command":"ls"}')]}),
    chunk({"content": "Done."}),
    chunk(finish_reason="tool_calls"),
    chunk(choices=False, usage={"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52,
                                "prompt_tokens_details": {"cached_tokens": 10}}),
)


async def test_stream_event_order_and_indexes(proxy):
    pair = await proxy(stream_handler(THINK_TEXT_TOOLS, piece=7))
    status, headers, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = parse_sse(raw)
    assert [(name, data.get("index")) for name, data in events] == [
        ("message_start", None), ("ping", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0),
        ("content_block_delta", 0), ("content_block_stop", 0),          # thinking + signature
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_delta", 1),
        ("content_block_stop", 1),                                         # text
        ("content_block_start", 2), ("content_block_delta", 2), ("content_block_delta", 2),
        ("content_block_stop", 2),                                         # tool call a
        ("content_block_start", 3), ("content_block_delta", 3), ("content_block_stop", 3),  # b
        ("content_block_start", 4), ("content_block_delta", 4), ("content_block_stop", 4),  # text
        ("message_delta", None), ("message_stop", None)]
    assert all(name == data["type"] for name, data in events)
    deltas = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert deltas[:4] == ["thinking_delta", "thinking_delta", "signature_delta", "text_delta"]
    assert deltas[5:8] == ["input_json_delta", "input_json_delta", "input_json_delta"]
    final = events[-2][1]
    assert final["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert final["usage"] == {"input_tokens": 30, "output_tokens": 12,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 10}


async def test_stream_through_sdk(proxy):
    pair = await proxy(stream_handler(THINK_TEXT_TOOLS, piece=5))
    events, message = await via_sdk_stream(pair.ccr.url)
    assert raw_types(events)[0] == "message_start" and raw_types(events)[-1] == "message_stop"
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use", "text"]
    thinking, text, read, bash, done = message.content
    assert thinking.thinking == "Let me think." and thinking.signature
    assert text.text == "I will look." and done.text == "Done."
    assert (read.id, read.name, read.input) == ("call_a", "Read", {"path": "a.txt"})
    assert (bash.id, bash.name, bash.input) == ("call_b", "Bash", {"command": "ls"})
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens,
            message.usage.cache_read_input_tokens) == (30, 12, 10)
    assert message.model == "gpt-test"


async def test_json_reply_puts_thinking_first(proxy):
    reply = chat_reply("Answer", reasoning_content="Deep thought", usage=USAGE,
                       tool_calls=[{"id": "call_1", "type": "function",
                                    "function": {"name": "Bash", "arguments": '{"command": "ls"}'}},
                                   {"id": "call_2", "type": "function",
                                    "function": {"name": "Read", "arguments": '{"path": "x"}'}}],
                       finish_reason="tool_calls")
    pair = await proxy(json_handler(reply))
    message = await via_sdk_json(pair.ccr.url)
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "Deep thought" and message.content[0].signature
    assert message.content[2].input == {"command": "ls"} and message.content[3].id == "call_2"
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 5)
    assert message.id.startswith("msg_") and message.role == "assistant" and message.type == "message"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_stream_reasoning_fields(proxy, field):
    payload = sse(chunk({field: "hmm "}), chunk({field: "ok"}), chunk({"content": "Hi"}),
                  chunk(finish_reason="stop", usage=USAGE))
    pair = await proxy(stream_handler(payload))
    _events, message = await via_sdk_stream(pair.ccr.url)
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "hmm ok"
    assert f":{field}:" in message.content[0].signature  # names the field it came from


async def test_stream_thinking_object_with_signature(proxy):
    """`thinking: {content, signature}` deltas (what reasoning-aware steps produce)."""
    payload = sse(chunk({"thinking": {"content": "step 1"}}),
                  chunk({"thinking": {"content": " step 2"}}),
                  chunk({"thinking": {"signature": "sig-abc"}}),
                  chunk({"content": "Result"}), chunk(finish_reason="stop"))
    pair = await proxy(stream_handler(payload))
    _status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    events = parse_sse(raw)
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    assert deltas == [{"type": "thinking_delta", "thinking": "step 1"},
                      {"type": "thinking_delta", "thinking": " step 2"},
                      {"type": "signature_delta", "signature": "sig-abc"},
                      {"type": "text_delta", "text": "Result"}]
    _, message = await via_sdk_stream(pair.ccr.url)
    assert message.content[0].signature == "sig-abc"


async def test_text_after_tool_call_opens_new_block(proxy):
    payload = sse(chunk({"tool_calls": [tool_call_delta(0, id="c1", name="Bash", arguments="{}")]}),
                  chunk({"content": "after"}), chunk(finish_reason="tool_calls"))
    pair = await proxy(stream_handler(payload))
    _, message = await via_sdk_stream(pair.ccr.url)
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("tool_use", None), ("text", "after")]


# (finish_reason, extra choice fields, stop_sequences, expected stop_reason, expected stop_sequence)
STOPS = [
    ("stop", {}, None, "end_turn", None),
    ("length", {}, None, "max_tokens", None),
    ("tool_calls", {}, None, "tool_use", None),
    ("content_filter", {}, None, "refusal", None),
    ("stop", {"stop_reason": "END"}, ["END"], "stop_sequence", "END"),
    ("stop", {"stop_reason": "OTHER"}, ["END"], "end_turn", None),
]


@pytest.mark.parametrize("finish,extra,stops,reason,sequence", STOPS,
                         ids=["stop", "length", "tool_calls", "content_filter", "vllm-stop-seq", "unmatched"])
@pytest.mark.parametrize("mode", ["json", "stream"])
async def test_stop_reason_mapping(proxy, mode, finish, extra, stops, reason, sequence):
    fields = {"stop_sequences": stops} if stops else {}
    if mode == "json":
        body = chat_reply("text", finish_reason=finish, usage=USAGE)
        body["choices"][0].update(extra)
        pair = await proxy(json_handler(body))
        message = await via_sdk_json(pair.ccr.url, **fields)
    else:
        last = chunk(finish_reason=finish)
        last["choices"][0].update(extra)
        pair = await proxy(stream_handler(sse(chunk({"content": "text"}), last)))
        _, message = await via_sdk_stream(pair.ccr.url, **fields)
    assert (message.stop_reason, message.stop_sequence) == (reason, sequence)


# where the provider puts usage in a stream
USAGE_PLACES = [
    ("finish-chunk", [chunk({"content": "a"}), chunk(finish_reason="stop", usage=USAGE)], (20, 5)),
    ("usage-only-last", [chunk({"content": "a"}), chunk(finish_reason="stop"),
                         chunk(choices=False, usage=USAGE)], (20, 5)),
    ("both-last-wins", [chunk({"content": "a"}),
                        chunk(finish_reason="stop", usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
                        chunk(choices=False, usage=USAGE)], (20, 5)),
    ("none", [chunk({"content": "a"}), chunk(finish_reason="stop")], (0, 0)),
    ("deepseek-cache-hit", [chunk({"content": "a"}), chunk(finish_reason="stop", usage={
        "prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107, "prompt_cache_hit_tokens": 60})], (40, 7)),
]


@pytest.mark.parametrize("chunks,expected", [u[1:] for u in USAGE_PLACES], ids=[u[0] for u in USAGE_PLACES])
async def test_stream_usage_wherever_it_is(proxy, chunks, expected):
    pair = await proxy(stream_handler(sse(*chunks)))
    _, message = await via_sdk_stream(pair.ccr.url)
    assert (message.usage.input_tokens, message.usage.output_tokens) == expected


async def test_json_reply_without_usage(proxy):
    pair = await proxy(json_handler(chat_reply("x")))
    message = await via_sdk_json(pair.ccr.url)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (0, 0)


async def test_broken_tool_arguments_are_kept(proxy):
    reply = chat_reply(None, finish_reason="tool_calls", tool_calls=[
        {"id": "c", "type": "function", "function": {"name": "Bash", "arguments": "{'command': 'ls'"}}])
    pair = await proxy(json_handler(reply))
    message = await via_sdk_json(pair.ccr.url)
    assert message.content[0].input == {"_raw_arguments": "{'command': 'ls'"}


async def test_long_tool_names_are_shortened_and_restored(proxy):
    long_name = "mcp__very_long_server_name_for_testing__and_an_even_longer_tool_name_here"
    async def handler(request):
        body = await request.json()
        short = body["tools"][0]["function"]["name"]
        assert len(short) <= 64
        return await stream_handler(sse(
            chunk({"tool_calls": [tool_call_delta(0, id="c", name=short, arguments="{}")]}),
            chunk(finish_reason="tool_calls")))(request)

    pair = await proxy(handler)
    _, message = await via_sdk_stream(pair.ccr.url, tools=[{"name": long_name, "input_schema": {"type": "object"}}])
    assert message.content[0].name == long_name


async def test_text_chunks_in_every_shape_providers_send(proxy):
    """Text continued with `role` repeated, a null or empty content, the finish in the same chunk
    as the last text, then reasoning and a tool call after text: each still lands where it
    belongs (the converter takes a shortcut for plain text chunks)."""
    payload = sse(
        chunk({"role": "assistant", "content": "One"}),
        chunk({"role": "assistant", "content": " two"}),
        chunk({"content": None}),
        chunk({"content": ""}),
        chunk({"content": " three", "reasoning_content": None}),
        chunk({"reasoning_content": "hmm"}),
        chunk({"content": "four"}),
        chunk({"tool_calls": [tool_call_delta(0, id="t1", name="Bash", arguments='{"a":1}')]}),
        chunk({"content": " five"}, finish_reason="stop"))
    pair = await proxy(stream_handler(payload))
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    events = parse_sse(raw)
    assert status == 200
    blocks = [data["content_block"]["type"] for name, data in events if name == "content_block_start"]
    assert blocks == ["text", "thinking", "text", "tool_use", "text"]
    texts = [data["delta"].get("text") for name, data in events
             if name == "content_block_delta" and data["delta"]["type"] == "text_delta"]
    assert texts == ["One", " two", " three", "four", " five"]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
