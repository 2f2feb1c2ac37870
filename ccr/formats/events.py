"""Unified (OpenAI chat completions) stream chunks -> Anthropic stream events.

One async generator; its locals are the whole state: the index of the open block, what kind of
block it is, and which upstream tool call each tool block belongs to. The output is exactly
what the Anthropic SDK expects:

    message_start, ping,
    (content_block_start, content_block_delta*, content_block_stop)*   indexes 0, 1, 2 ...
    message_delta (stop_reason, stop_sequence, usage), message_stop

Thinking arrives as `reasoning_content`, `reasoning` or `thinking: {content, signature}`; text
after a tool call opens a new text block; usage is taken from whichever chunk carries it (the
finish chunk, OpenAI's usage-only last chunk, or both). A provider error inside the stream, or a
stream that stops before its finish, raises UpstreamError: the writer turns that into an
Anthropic `error` event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ccr.errors import UpstreamError
from ccr.jsonlib import Json
from ccr.transformers.hub import reasoning_signature

from .common import (
    new_message_id,
    reasoning_text,
    stop_reason,
    usage_from_unified,
)
from .reply import tool_id

__all__ = ["anthropic_events", "StreamSummary"]

Event = tuple[str, Json]

_PLAIN_TEXT = frozenset({"content", "role"})  # a delta with nothing but (more) text


@dataclass(slots=True)
class StreamSummary:
    """Filled in as the stream runs, read by the caller for logs and stats."""

    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    first_text_at: float | None = None
    events: int = 0
    done: bool = False  # set by the upstream reader when it saw [DONE]


async def anthropic_events(chunks: AsyncIterator[Json], *, model: str, provider: str,
                           request: Json, summary: StreamSummary) -> AsyncIterator[Event]:
    index = -1
    kind: str | None = None          # "text", "thinking", "tool_use" for the open block
    open_tool: Any = None            # upstream tool-call index of the open tool block
    tool_blocks: dict[Any, int] = {}
    seen_ids: set[str] = set()
    thinking_field = "reasoning_content"
    thinking_signed = False
    finish: Any = None
    finish_choice: Json = {}
    usage: Any = None
    started = False

    def close() -> list[Event]:
        nonlocal kind, open_tool, thinking_signed
        if kind is None:
            return []
        out: list[Event] = []
        if kind == "thinking" and not thinking_signed:
            out.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                "type": "signature_delta", "signature": reasoning_signature(thinking_field, provider)}}))
        out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        kind, open_tool = None, None
        return out

    def open_block(block: Json) -> list[Event]:
        nonlocal index, kind
        out = close()
        index += 1
        kind = block["type"]
        out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                            "content_block": block}))
        return out

    async for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise UpstreamError(f"{provider},{model}: provider error mid-stream: {message}", status=502)
        if not started:
            started = True
            yield "message_start", {"type": "message_start", "message": {
                "id": new_message_id(chunk.get("id")), "type": "message", "role": "assistant",
                "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}
            yield "ping", {"type": "ping"}
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or choice.get("message") or {}
            if kind == "text" and delta.keys() <= _PLAIN_TEXT:  # most chunks: more of the open text
                content = delta.get("content")
                if isinstance(content, str) and content:
                    yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                                  "delta": {"type": "text_delta", "text": content}}
                if choice.get("finish_reason"):
                    finish, finish_choice = choice["finish_reason"], choice
                continue
            text, signature, source = reasoning_text(delta)
            if text or signature:
                if kind != "thinking":
                    for event in open_block({"type": "thinking", "thinking": "", "signature": ""}):
                        yield event
                    thinking_signed = False
                    thinking_field = source or "reasoning_content"
                if text:
                    yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                                  "delta": {"type": "thinking_delta", "thinking": text}}
                if signature:
                    thinking_signed = True
                    yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                                  "delta": {"type": "signature_delta", "signature": signature}}
            content = delta.get("content")
            if isinstance(content, str) and content:
                if kind != "text":
                    for event in open_block({"type": "text", "text": ""}):
                        yield event
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "text_delta", "text": content}}
            for position, call in enumerate(delta.get("tool_calls") or ()):
                key = call.get("index", position)
                function = call.get("function") or {}
                if key not in tool_blocks:
                    tool_blocks[key] = index + 1
                    for event in open_block({"type": "tool_use", "id": tool_id(call.get("id"), seen_ids),
                                             "name": function.get("name") or "", "input": {}}):
                        yield event
                    open_tool = key
                arguments = function.get("arguments")
                if arguments:
                    if open_tool != key:
                        raise UpstreamError(f"{provider},{model}: the provider interleaved the arguments "
                                            "of parallel tool calls, which ccr cannot stream", status=502)
                    if not isinstance(arguments, str):  # some servers send an object
                        arguments = json.dumps(arguments, ensure_ascii=False)
                    yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                                  "delta": {"type": "input_json_delta", "partial_json": arguments}}
            if choice.get("finish_reason"):
                finish, finish_choice = choice["finish_reason"], choice
    if not started:
        raise UpstreamError(f"{provider},{model}: the provider closed the stream without sending anything",
                            status=502)
    if finish is None and not summary.done:
        raise UpstreamError(f"{provider},{model}: the provider's stream ended before the reply was "
                            "complete (no finish_reason)", status=502)
    for event in close():
        yield event
    reason, sequence = stop_reason(finish, finish_choice, request.get("stop_sequences"))
    if reason == "end_turn" and tool_blocks:
        reason = "tool_use"
    final_usage = usage_from_unified(usage)
    summary.usage, summary.stop_reason = final_usage, reason
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": reason, "stop_sequence": sequence},
                            "usage": final_usage}
    yield "message_stop", {"type": "message_stop"}
