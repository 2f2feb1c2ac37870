"""Is a response exactly right? Written independently of ccr's own code (no ccr imports).

Each check takes the raw response body and the text the upstream sent, and returns
`(events, problem)`: the number of SSE events (0 for JSON) and None when everything is right,
or a short description of the first thing that is wrong.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["anthropic_stream", "anthropic_json", "openai_stream", "openai_json", "split_events"]

Result = tuple[int, str | None]


def split_events(raw: bytes) -> list[tuple[str, str]]:
    """(event name, data) of each SSE event; comments and blank events are skipped."""
    text = raw.decode("utf-8").replace("\r\n", "\n")
    out = []
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            out.append((name, "\n".join(data)))
    return out


def anthropic_stream(raw: bytes, expected: str) -> Result:
    """The Anthropic event grammar, block indexes, and the text byte for byte."""
    try:
        events = [(name, json.loads(data)) for name, data in split_events(raw)]
    except ValueError as exc:
        return 0, f"an event is not JSON: {exc}"
    if not events:
        return 0, "no events"
    problem = _grammar(events)
    if problem:
        return len(events), problem
    text = "".join(d["delta"]["text"] for _, d in events
                   if d["type"] == "content_block_delta" and d["delta"].get("type") == "text_delta")
    if text != expected:
        return len(events), _diff(text, expected)
    return len(events), None


def _grammar(events: list[tuple[str, Any]]) -> str | None:
    state = "start"     # start -> blocks -> delta -> stop
    open_index: int | None = None
    next_index = 0
    for position, (name, data) in enumerate(events):
        kind = data.get("type") if isinstance(data, dict) else None
        if kind != name:
            return f"event {position}: name {name!r} but data type {kind!r}"
        if kind == "error":
            return f"error event: {data.get('error')}"
        if kind == "ping":
            continue
        if state == "start":
            if kind != "message_start":
                return f"event {position}: {kind} before message_start"
            state = "blocks"
        elif state == "blocks":
            if kind == "content_block_start":
                if open_index is not None or data.get("index") != next_index:
                    return f"event {position}: content_block_start index {data.get('index')} out of order"
                open_index, next_index = next_index, next_index + 1
            elif kind == "content_block_delta":
                if data.get("index") != open_index:
                    return f"event {position}: delta for block {data.get('index')}, open is {open_index}"
            elif kind == "content_block_stop":
                if data.get("index") != open_index:
                    return f"event {position}: stop for block {data.get('index')}, open is {open_index}"
                open_index = None
            elif kind == "message_delta":
                if open_index is not None:
                    return f"event {position}: message_delta with block {open_index} still open"
                if data.get("delta", {}).get("stop_reason") != "end_turn":
                    return f"event {position}: stop_reason {data.get('delta')}"
                state = "delta"
            else:
                return f"event {position}: unexpected {kind}"
        elif state == "delta":
            if kind != "message_stop":
                return f"event {position}: {kind} after message_delta"
            state = "stop"
        else:
            return f"event {position}: {kind} after message_stop"
    return None if state == "stop" else f"stream ended in state {state!r}"


def anthropic_json(raw: bytes, expected: str) -> Result:
    try:
        message = json.loads(raw)
    except ValueError as exc:
        return 0, f"not JSON: {exc}"
    if message.get("type") != "message" or message.get("role") != "assistant":
        return 0, f"not a message: {str(message)[:200]}"
    if message.get("stop_reason") != "end_turn":
        return 0, f"stop_reason {message.get('stop_reason')!r}"
    text = "".join(b.get("text", "") for b in message.get("content") or () if b.get("type") == "text")
    return 0, None if text == expected else _diff(text, expected)


def openai_stream(raw: bytes, expected: str) -> Result:
    events = split_events(raw)
    if not events or events[-1][1] != "[DONE]":
        return len(events), "stream did not end with [DONE]"
    parts = []
    for _, data in events[:-1]:
        chunk = json.loads(data)
        for choice in chunk.get("choices") or ():
            parts.append(choice.get("delta", {}).get("content") or "")
    text = "".join(parts)
    return len(events), None if text == expected else _diff(text, expected)


def openai_json(raw: bytes, expected: str) -> Result:
    try:
        text = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return 0, f"not a chat completion: {exc!r}"
    return 0, None if text == expected else _diff(text, expected)


def _diff(got: str, expected: str) -> str:
    at = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected)))
    return (f"text differs at character {at}: got {got[at:at + 20]!r}, "
            f"expected {expected[at:at + 20]!r} (lengths {len(got)}/{len(expected)})")
