"""Between a whole Anthropic message and its stream of events, both ways.

Used when the provider answers in the other mode than the client asked for: a client that
wants a stream gets the events of a JSON reply; a client that wants JSON gets the message
rebuilt from a provider's stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from ccr.errors import UpstreamError
from ccr.jsonlib import Json

__all__ = ["accumulate", "message_events"]

Event = tuple[str, Json]


_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}


async def accumulate(events: AsyncIterator[Event]) -> Json:
    """The message a stream of Anthropic events carries. Deltas are kept as lists of pieces and
    joined once when their block ends, so the work is linear in the stream's size."""
    message: Json | None = None
    pieces: dict[tuple[int, str], list[str]] = {}   # (block index, field) -> deltas so far
    partial: dict[int, list[str]] = {}              # block index -> input_json_delta pieces
    async for kind, data in events:
        if kind == "message_start":
            message = dict(data["message"])
            message["content"] = []
        elif message is None:
            if kind == "error":
                raise UpstreamError(str(data.get("error", {}).get("message", data)), status=502)
            continue
        elif kind == "content_block_start":
            message["content"].append(dict(data["content_block"]))
        elif kind == "content_block_delta":
            index = data["index"]
            block = message["content"][index]  # an index with no block is an error, as always
            delta = data["delta"]
            dtype = delta.get("type")
            field = _DELTA_FIELDS.get(dtype)
            if field is not None:
                texts = pieces.get((index, field))
                if texts is None:
                    pieces[index, field] = texts = []
                    block.setdefault(field, "")  # the field's place among the keys, as before
                texts.append(delta[field])
            elif dtype == "input_json_delta":
                partial.setdefault(index, []).append(delta["partial_json"])
            elif dtype == "citations_delta":
                block.setdefault("citations", []).append(delta.get("citation"))
        elif kind == "content_block_stop":
            index = data["index"]
            _join(message["content"], pieces, index)
            if index in partial:
                text = "".join(partial.pop(index))
                try:
                    message["content"][index]["input"] = json.loads(text) if text.strip() else {}
                except ValueError:
                    message["content"][index]["input"] = {"_raw_arguments": text}
        elif kind == "message_delta":
            message.update({k: v for k, v in data.get("delta", {}).items()})
            usage = dict(message.get("usage") or {})
            usage.update(data.get("usage") or {})
            message["usage"] = usage
        elif kind == "error":
            error = data.get("error", {})
            raise UpstreamError(str(error.get("message", data)), status=502,
                                error_type=error.get("type"))
    if message is None:
        raise UpstreamError("the provider's stream carried no message", status=502)
    _join(message["content"], pieces, None)  # blocks whose stop never came
    return message


def _join(content: list[Json], pieces: dict[tuple[int, str], list[str]], index: int | None) -> None:
    """Put the pieces of one block (or, with None, of every block) into their fields."""
    for key in [k for k in pieces if index is None or k[0] == index]:
        block_index, field = key
        block = content[block_index]
        block[field] = block.get(field, "") + "".join(pieces.pop(key))


def message_events(message: Json) -> list[Event]:
    """The events an Anthropic stream of this message would have carried."""
    usage = dict(message.get("usage") or {})
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 0}}
    events: list[Event] = [("message_start", {"type": "message_start", "message": start}),
                           ("ping", {"type": "ping"})]
    for index, block in enumerate(message.get("content") or ()):
        kind = block.get("type")
        if kind == "text":
            head, delta = {**block, "text": ""}, {"type": "text_delta", "text": block.get("text", "")}
        elif kind == "thinking":
            head, delta = {**block, "thinking": "", "signature": ""}, {
                "type": "thinking_delta", "thinking": block.get("thinking", "")}
        elif kind in ("tool_use", "server_tool_use"):
            head, delta = {**block, "input": {}}, {
                "type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}
        else:
            head, delta = block, None
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": head}))
        if delta is not None:
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": delta}))
        if kind == "thinking" and block.get("signature"):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "signature_delta",
                                                             "signature": block["signature"]}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": message.get("stop_reason"),
                                               "stop_sequence": message.get("stop_sequence")},
                                     "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events
