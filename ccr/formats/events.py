"""Unified (OpenAI chat completions) stream chunks -> Anthropic stream events.

`AnthropicEvents` is the conversion, sans-IO; its attributes are the whole state: the index of
the open block, what kind of block it is, and which upstream tool call each tool block belongs
to. `anthropic_events` runs it over an async stream of chunks. The output is exactly what the
Anthropic SDK expects:

    message_start, ping,
    (content_block_start, content_block_delta*, content_block_stop)*   indexes 0, 1, 2 ...
    message_delta (stop_reason, stop_sequence, usage), message_stop

Thinking arrives as `reasoning_content`, `reasoning` or `thinking: {content, signature}`; text
after a tool call opens a new text block; usage is taken from whichever chunk carries it (the
finish chunk, OpenAI's usage-only last chunk, or both). A provider error inside the stream, or a
stream that stops before its finish, raises UpstreamError: the writer turns that into an
Anthropic `error` event.

`anthropic_frames` is the same conversion straight from the provider's SSE body, for a client
that streams when no transformer touches the stream: most chunks of a reply only continue the
open text block, and their events go out as finished SSE frames (bytes) built from the text's
JSON string, without the chunk being parsed or the event's dicts made and encoded; every other
chunk goes through `AnthropicEvents`. The bytes are those `encode_event` writes for the same
event.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ccr import jsonlib
from ccr.errors import UpstreamError
from ccr.jsonlib import Json
from ccr.sse import HOLES, SSEDecoder, read_events
from ccr.transformers.hub import reasoning_signature

from .common import (
    new_message_id,
    reasoning_text,
    stop_reason,
    usage_from_unified,
)
from .reply import tool_id

__all__ = ["AnthropicEvents", "StreamSummary", "anthropic_events", "anthropic_frames"]

Event = tuple[str, Json]

_PLAIN_TEXT = frozenset({"content", "role"})  # a delta with nothing but (more) text


@dataclass(slots=True)
class StreamSummary:
    """Filled in as the stream runs, read by the caller for logs and stats."""

    usage: dict[str, int] = field(default_factory=dict)
    done: bool = False  # set by the upstream reader when it saw [DONE]
    events: int = 0  # counted by the /v1/messages writer (until the pipeline's writer replaces it)


class AnthropicEvents:
    """One stream's conversion, sans-IO: `feed(chunk)` gives the events a hub chunk makes,
    `end()` the closing ones. Its attributes are the whole state: the index of the open block,
    what kind of block it is, and which upstream tool call each tool block belongs to."""

    __slots__ = ("finish", "finish_choice", "index", "kind", "model", "open_tool", "provider", "request",
                 "seen_ids", "started", "summary", "thinking_field", "thinking_signed", "tool_blocks", "usage")

    def __init__(self, *, model: str, provider: str, request: Json, summary: StreamSummary) -> None:
        self.model, self.provider, self.request, self.summary = model, provider, request, summary
        self.index = -1
        self.kind: str | None = None     # "text", "thinking", "tool_use" for the open block
        self.open_tool: Any = None       # upstream tool-call index of the open tool block
        self.tool_blocks: dict[Any, int] = {}
        self.seen_ids: set[str] = set()
        self.thinking_field = "reasoning_content"
        self.thinking_signed = False
        self.finish: Any = None
        self.finish_choice: Json = {}
        self.usage: Any = None
        self.started = False

    def _close(self, out: list[Event]) -> None:
        if self.kind is None:
            return
        if self.kind == "thinking" and not self.thinking_signed:
            out.append(("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": {
                "type": "signature_delta", "signature": reasoning_signature(self.thinking_field, self.provider)}}))
        out.append(("content_block_stop", {"type": "content_block_stop", "index": self.index}))
        self.kind, self.open_tool = None, None

    def _open(self, block: Json, out: list[Event]) -> None:
        self._close(out)
        self.index += 1
        self.kind = block["type"]
        out.append(("content_block_start", {"type": "content_block_start", "index": self.index,
                                            "content_block": block}))

    def feed(self, chunk: Any) -> list[Event]:
        out: list[Event] = []
        if not isinstance(chunk, dict):
            return out
        model, provider = self.model, self.provider
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise UpstreamError(f"{provider},{model}: provider error mid-stream: {message}", status=502)
        if not self.started:
            self.started = True
            out.append(("message_start", {"type": "message_start", "message": {
                "id": new_message_id(chunk.get("id")), "type": "message", "role": "assistant",
                "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}))
            out.append(("ping", {"type": "ping"}))
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or choice.get("message") or {}
            if self.kind == "text" and delta.keys() <= _PLAIN_TEXT:  # most chunks: more of the open text
                content = delta.get("content")
                if isinstance(content, str) and content:
                    out.append(("content_block_delta", {"type": "content_block_delta", "index": self.index,
                                                        "delta": {"type": "text_delta", "text": content}}))
                if choice.get("finish_reason"):
                    self.finish, self.finish_choice = choice["finish_reason"], choice
                continue
            text, signature, source = reasoning_text(delta)
            if text or signature:
                if self.kind != "thinking":
                    self._open({"type": "thinking", "thinking": "", "signature": ""}, out)
                    self.thinking_signed = False
                    self.thinking_field = source or "reasoning_content"
                if text:
                    out.append(("content_block_delta", {"type": "content_block_delta", "index": self.index,
                                                        "delta": {"type": "thinking_delta", "thinking": text}}))
                if signature:
                    self.thinking_signed = True
                    out.append(("content_block_delta", {"type": "content_block_delta", "index": self.index,
                                                        "delta": {"type": "signature_delta",
                                                                  "signature": signature}}))
            content = delta.get("content")
            if isinstance(content, str) and content:
                if self.kind != "text":
                    self._open({"type": "text", "text": ""}, out)
                out.append(("content_block_delta", {"type": "content_block_delta", "index": self.index,
                                                    "delta": {"type": "text_delta", "text": content}}))
            for position, call in enumerate(delta.get("tool_calls") or ()):
                self._tool_call(position, call, out)
            if choice.get("finish_reason"):
                self.finish, self.finish_choice = choice["finish_reason"], choice
        return out

    def _tool_call(self, position: int, call: Any, out: list[Event]) -> None:
        key = call.get("index", position)
        function = call.get("function") or {}
        if key not in self.tool_blocks:
            self.tool_blocks[key] = self.index + 1
            self._open({"type": "tool_use", "id": tool_id(call.get("id"), self.seen_ids),
                        "name": function.get("name") or "", "input": {}}, out)
            self.open_tool = key
        arguments = function.get("arguments")
        if arguments:
            if self.open_tool != key:
                raise UpstreamError(f"{self.provider},{self.model}: the provider interleaved the arguments "
                                    "of parallel tool calls, which ccr cannot stream", status=502)
            if not isinstance(arguments, str):  # some servers send an object
                arguments = json.dumps(arguments, ensure_ascii=False)
            out.append(("content_block_delta", {"type": "content_block_delta", "index": self.index,
                                                "delta": {"type": "input_json_delta", "partial_json": arguments}}))

    def end(self) -> list[Event]:
        """The stream's last events, once the provider's stream is over."""
        label = f"{self.provider},{self.model}"
        if not self.started:
            raise UpstreamError(f"{label}: the provider closed the stream without sending anything", status=502)
        if self.finish is None and not self.summary.done:
            raise UpstreamError(f"{label}: the provider's stream ended before the reply was "
                                "complete (no finish_reason)", status=502)
        out: list[Event] = []
        self._close(out)
        reason, sequence = stop_reason(self.finish, self.finish_choice, self.request.get("stop_sequences"))
        if reason == "end_turn" and self.tool_blocks:
            reason = "tool_use"
        final_usage = usage_from_unified(self.usage)
        self.summary.usage = final_usage
        out.append(("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": reason, "stop_sequence": sequence},
                                      "usage": final_usage}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out


async def anthropic_events(chunks: AsyncIterator[Json], *, model: str, provider: str,
                           request: Json, summary: StreamSummary) -> AsyncIterator[Event]:
    state = AnthropicEvents(model=model, provider=provider, request=request, summary=summary)
    async for chunk in chunks:
        for event in state.feed(chunk):
            yield event
    for event in state.end():
        yield event


# encode_event("content_block_delta", {"type": "content_block_delta", "index": i, "delta":
# {"type": "text_delta", "text": t}}) with jsonlib.dumps(t) for %s: the same bytes, as the rest is ASCII
_TEXT_FRAME = (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
               b'"delta":{"type":"text_delta","text":%s}}\n\n')


async def anthropic_frames(reads: AsyncIterator[bytes], before_read: Callable[[], Awaitable[None]] | None = None,
                           *, model: str, provider: str, request: Json, summary: StreamSummary,
                           on_bad_data: Callable[[str], None] | None = None) -> AsyncIterator[tuple[str, Any]]:
    """`anthropic_events` over the chunks of the SSE stream in `reads` (the provider's body, read
    as `sse.read_events` reads it; the data taken as `upstream.json_chunks` takes it). Text
    deltas that only continue the open text block come as `("content_block_delta", frames)`, the
    SSE frames of one or more consecutive events as bytes; everything else as `(kind, data)`.

    Once a plain text chunk has shown where its text sits (`_Slot`), the decoder is told to
    expect chunks that are the same bytes around another string literal that is what jsonlib
    writes for its text: a run of them comes as one HOLES event, never parsed, and each
    literal goes into its frame as it came."""
    state = AnthropicEvents(model=model, provider=provider, request=request, summary=summary)
    decoder = SSEDecoder()
    loads, dumps, frame = jsonlib.loads, jsonlib.dumps, _TEXT_FRAME
    slot: _Slot | None = None
    tries = _SLOT_TRIES
    async for batch in read_events(reads, before_read, decoder):
        run = b""  # frames of consecutive text deltas, sent as one item
        for event in batch:
            data = event.data
            if event.event == HOLES:  # text chunks in the slot's shape (see SSEDecoder.expect)
                if state.kind != "text":  # the first opens the text block: the general path
                    assert slot is not None
                    first, _, data = data.partition("\x00")  # (`run` is empty: only text adds to it)
                    for item in state.feed(slot.chunk(first)):
                        yield item
                if data:
                    run += _frames(state.index, data)
                continue
            if data == "[DONE]":
                summary.done = True
                if run:
                    yield "content_block_delta", run
                for item in state.end():
                    yield item
                return
            if not data:
                continue
            try:
                chunk = loads(data)
            except ValueError:
                if on_bad_data is not None:
                    if run:  # what came before goes out first, should this raise
                        yield "content_block_delta", run
                        run = b""
                    on_bad_data(data[:200])
                continue
            if type(chunk) is not dict:
                continue
            if event.event == "error" and "error" not in chunk:
                chunk = {"error": chunk}
            text = _plain_text(chunk)
            if text is not None and state.kind == "text":  # more of the open text block
                run += frame % (state.index, dumps(text))
            else:
                if run:
                    yield "content_block_delta", run
                    run = b""
                for item in state.feed(chunk):
                    yield item
            if text is not None and tries and event.event == "message":  # (the text block is open now)
                tries -= 1
                learnt = _Slot.find(data, text)
                if learnt is not None:
                    slot = learnt
                    decoder.expect(slot.before, slot.after, _VERBATIM_LITERAL)
        if run:
            yield "content_block_delta", run
    for item in state.end():
        yield item


def _plain_text(chunk: Json) -> str | None:
    """The text of a chunk that only carries more text (the shortcut in AnthropicEvents.feed:
    one choice, no finish, no usage, no error, a delta of nothing but text), else None."""
    if chunk.get("error") or chunk.get("usage"):
        return None
    choices = chunk.get("choices")
    if type(choices) is not list or len(choices) != 1 or type(choice := choices[0]) is not dict \
            or choice.get("finish_reason"):
        return None
    delta = choice.get("delta") or choice.get("message") or {}
    if type(delta) is not dict or not delta.keys() <= _PLAIN_TEXT:
        return None
    content = delta.get("content")
    return content if type(content) is str and content else None


def _frames(index: int, holes: str) -> bytes:
    """The frames of text deltas at `index`, one per literal in `holes` (NUL between two):
    `_TEXT_FRAME`'s bytes, made at once."""
    head = _TEXT_HEAD % index
    return head + holes.encode().replace(b"\x00", _TEXT_TAIL + head) + _TEXT_TAIL


_TEXT_HEAD, _TEXT_TAIL = _TEXT_FRAME.split(b"%s")
# A string literal that is what jsonlib writes for its text: characters it writes as they are
# (not a quote, backslash or control character, nor U+0085, U+2028, U+2029, which it escapes as
# \uXXXX) and the escapes it writes in their short form; not empty (an empty text makes no event).
_AS_IS = r'[^"\\\x00-\x1f\x85\u2028\u2029]'
_VERBATIM_LITERAL = re.compile(rf'"(?!"){_AS_IS}*(?:\\["\\bfnrt]{_AS_IS}*)*"')
_SLOT_TRIES = 4  # chunks that may teach a _Slot: a provider whose chunks all differ costs no more


class _Slot:
    """Where the text of a plain text chunk sits in its JSON: the bytes before and after it."""

    __slots__ = ("after", "before")

    def __init__(self, before: str, after: str) -> None:
        self.before, self.after = before, after

    def chunk(self, literal: str) -> Json:
        """The chunk with `literal` in the slot."""
        parsed: Json = jsonlib.loads(self.before + literal + self.after)
        return parsed

    @classmethod
    def find(cls, data: str, content: str) -> _Slot | None:
        """The slot of `content`, the text of the plain text chunk `data`, if its literal is
        plain and found once, and proven: the same bytes with another text in the slot are a
        plain text chunk of that text (so the slot is the chunk's text, and all else is the same
        bytes)."""
        literal = f'"{content}"'  # as the chunk holds it, if it needs no escape
        if "\n" in data or "\\" in content or not _VERBATIM_LITERAL.fullmatch(literal):
            return None
        at = data.find(literal)
        if at < 0 or data.find(literal, at + 1) >= 0:
            return None
        slot = cls(data[:at], data[at + len(literal):])
        try:
            probe = slot.chunk('"ccr"')
        except ValueError:
            return None
        return slot if type(probe) is dict and _plain_text(probe) == "ccr" else None
