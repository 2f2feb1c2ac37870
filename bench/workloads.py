"""The requests the load generator sends and the replies the fake upstream returns.

Two request sizes, built deterministically (same bytes every run):

- `small`: about 1 KB, one system string and one user message;
- `claude-code`: about 45 KB, shaped like a real Claude Code turn: three system blocks with
  cache_control, 16 tool definitions with JSON schemas, and a conversation with tool calls.

Every request carries a sequence number in its last user message, so no two bodies are equal
(as in a real session, where every turn adds text) and the reply marker `[[bench:N:GAP]]`,
which tells the fake upstream how many chunks to send and how many milliseconds apart.
The upstream's reply text is a pure function of N (`reply_pieces`), so the load generator knows
exactly which text every response must carry.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["Mode", "MODES", "Workload", "build", "reply_pieces", "reply_text", "SEQ", "SIZES"]

SEQ = b"@@SEQ@@"  # replaced by the request's sequence number in the encoded template
SIZES = ("small", "claude-code")

Json = dict[str, Any]


@dataclass(frozen=True)
class Mode:
    """How the upstream answers: `chunks` text pieces, `gap_ms` apart, streamed or not."""

    name: str
    stream: bool
    chunks: int
    gap_ms: int

    @property
    def marker(self) -> str:
        return f"[[bench:{self.chunks}:{self.gap_ms}]]"


MODES = {
    "json": Mode("json", False, 200, 0),
    "stream": Mode("stream", True, 200, 0),
    "paced": Mode("paced", True, 100, 10),
}


def reply_pieces(chunks: int) -> list[str]:
    """The text pieces of a reply: words with some non-ASCII, quotes, newlines and U+2028.

    U+2028 inside JSON strings is the byte-exactness trap: a proxy that writes it raw breaks
    clients that split lines with str.splitlines().
    """
    pieces = []
    for i in range(chunks):
        piece = f"w{i} "
        if i % 10 == 3:
            piece = f"café{i} "
        if i % 50 == 7:
            piece = f"line{i}\n"
        if i % 64 == 9:
            piece = f'"q{i}" '
        if i == 11:
            piece = "sep\u2028x "
        pieces.append(piece)
    return pieces


def reply_text(chunks: int) -> str:
    return "".join(reply_pieces(chunks))


@dataclass(frozen=True)
class Workload:
    """One encoded request template for a size and mode, in both dialects."""

    size: str
    mode: Mode
    anthropic: bytes   # POST /v1/messages body, with SEQ to replace
    openai: bytes      # POST /v1/chat/completions body for the upstream-alone baseline

    def anthropic_body(self, seq: int) -> bytes:
        return self.anthropic.replace(SEQ, str(seq).encode())

    def openai_body(self, seq: int) -> bytes:
        return self.openai.replace(SEQ, str(seq).encode())

    @property
    def expected_text(self) -> str:
        return reply_text(self.mode.chunks)


def build(size: str, mode: Mode) -> Workload:
    body = _small(mode) if size == "small" else _claude_code(mode)
    body["stream"] = mode.stream
    anthropic = json.dumps(body).encode()
    openai = json.dumps(_to_openai(body)).encode()
    return Workload(size, mode, anthropic, openai)


# --- deterministic filler text -------------------------------------------------------------

_WORDS = (  # noqa: SIM905 (a word list reads best as text)
    "the file function test value return import class module error config request "
    "stream token model router provider handler path line change commit build check "
    "result output input data list string number object array field type default "
    "async await context session server client event write read parse encode").split()


def _prose(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 16)))
        sentence = sentence[0].upper() + sentence[1:] + ". "
        out.append(sentence)
        size += len(sentence)
    return "".join(out)[:chars]


def _last_user(mode: Mode) -> str:
    return f"Turn @@SEQ@@: please continue with the next step. {mode.marker}"


def _small(mode: Mode) -> Json:
    rng = random.Random(1)
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "You are a helpful assistant. " + _prose(rng, 120),
        "messages": [{"role": "user", "content": _prose(rng, 700) + " " + _last_user(mode)}],
    }


def _tool(rng: random.Random, name: str) -> Json:
    properties: Json = {}
    for i in range(rng.randint(3, 7)):
        kind = rng.choice(("string", "number", "boolean", "array"))
        prop: Json = {"type": kind, "description": _prose(rng, rng.randint(80, 200))}
        if kind == "array":
            prop["items"] = {"type": "string"}
        properties[f"{rng.choice(_WORDS)}_{i}"] = prop
    return {
        "name": name,
        "description": _prose(rng, rng.randint(350, 1000)),
        "input_schema": {"type": "object", "properties": properties,
                         "required": list(properties)[:2], "additionalProperties": False,
                         "$schema": "http://json-schema.org/draft-07/schema#"},
    }


_TOOL_NAMES = ("Task", "Bash", "Glob", "Grep", "ExitPlanMode", "Read", "Edit", "MultiEdit", "Write",
               "NotebookEdit", "WebFetch", "TodoWrite", "WebSearch", "BashOutput", "KillShell",
               "SlashCommand")


def _claude_code(mode: Mode) -> Json:
    rng = random.Random(2)
    cache = {"type": "ephemeral"}
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.0; cc_entrypoint=cli"},
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
         "cache_control": cache},
        {"type": "text", "text": _prose(rng, 6_500), "cache_control": cache},
    ]
    tools = [_tool(rng, name) for name in _TOOL_NAMES]
    messages: list[Json] = [
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>" + _prose(rng, 1500) + "</system-reminder>"},
            {"type": "text", "text": _prose(rng, 300)}]},
    ]
    for turn in range(4):
        call_id = f"toolu_01Bench{turn:04d}"
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": _prose(rng, 200)},
            {"type": "tool_use", "id": call_id, "name": "Read",
             "input": {"file_path": f"/work/project/src/module_{turn}.py", "limit": 200}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call_id, "content": _prose(rng, 1600)}]})
    messages.append({"role": "assistant", "content": [{"type": "text", "text": _prose(rng, 400)}]})
    messages.append({"role": "user", "content": [
        {"type": "text", "text": _last_user(mode), "cache_control": cache}]})
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "system": system,
        "messages": messages,
        "tools": tools,
        "metadata": {"user_id": json.dumps({"device_id": "bench", "session_id":
                                            "5a1f3b2c-0000-4000-8000-00000000bench"})},
        "thinking": {"type": "adaptive"},
    }


def _to_openai(body: Json) -> Json:
    """A plain translation for the upstream-alone baseline (similar size and shape)."""
    system = body["system"]
    if isinstance(system, list):
        system = "\n".join(b["text"] for b in system)
    messages: list[Json] = [{"role": "system", "content": system}]
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
            continue
        texts = [b["text"] for b in content if b["type"] == "text"]
        calls = [{"id": b["id"], "type": "function",
                  "function": {"name": b["name"], "arguments": json.dumps(b["input"])}}
                 for b in content if b["type"] == "tool_use"]
        for block in content:
            if block["type"] == "tool_result":
                messages.append({"role": "tool", "tool_call_id": block["tool_use_id"],
                                 "content": block["content"]})
        if texts or calls:
            out: Json = {"role": message["role"], "content": "".join(texts)}
            if calls:
                out["tool_calls"] = calls
            messages.append(out)
    out = {"model": "bench-model", "max_tokens": body["max_tokens"], "messages": messages,
           "stream": body.get("stream", False)}
    if body.get("tools"):
        out["tools"] = [{"type": "function", "function": {
            "name": t["name"], "description": t["description"], "parameters": t["input_schema"]}}
            for t in body["tools"]]
    if out["stream"]:
        out["stream_options"] = {"include_usage": True}
    return out
