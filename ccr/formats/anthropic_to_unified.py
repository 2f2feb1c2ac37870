"""Anthropic replies (a whole message, or its stream of events) -> unified chat completions.

The reverse of the Anthropic edge, for clients of POST /v1/chat/completions whose provider
speaks Anthropic natively. Thinking keeps its signature (`thinking: {content, signature}`);
usage becomes OpenAI's, where prompt tokens include cached ones:

    {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 5}
 -> {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105,
     "prompt_tokens_details": {"cached_tokens": 90}}
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ccr.jsonlib import Json

__all__ = ["message_to_unified", "events_to_unified", "openai_usage", "FINISH"]


FINISH = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
          "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter"}


def openai_usage(usage: Any) -> Json:
    usage = usage if isinstance(usage, dict) else {}
    cached = int(usage.get("cache_read_input_tokens") or 0)
    created = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + cached + created
    completion = int(usage.get("output_tokens") or 0)
    out: Json = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion, "prompt_tokens_details": {"cached_tokens": cached}}
    if created:
        out["cache_creation_input_tokens"] = created
    return out


def message_to_unified(message: Json) -> Json:
    texts: list[str] = []
    calls: list[Json] = []
    thinking: Json | None = None
    for block in message.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            if thinking is None:
                thinking = {"content": "", "signature": block.get("signature")}
            thinking["content"] += str(block.get("thinking", ""))
        elif kind in ("tool_use", "server_tool_use"):
            calls.append({"index": len(calls), "id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name", ""),
                                       "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)}})
    out: Json = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        out["tool_calls"] = calls
    if thinking is not None:
        out["thinking"] = thinking
    return {"id": message.get("id"), "object": "chat.completion", "model": message.get("model"),
            "choices": [{"index": 0, "message": out,
                         "finish_reason": FINISH.get(str(message.get("stop_reason")), "stop")}],
            "usage": openai_usage(message.get("usage"))}


async def events_to_unified(events: AsyncIterator[Json]) -> AsyncIterator[Json]:
    """Anthropic event dicts -> unified chunks; an `error` event becomes an error chunk.

    A stream that ends before `message_stop` ends without a finish chunk, which the OpenAI
    edge reports as cut off.
    """
    message_id: Any = None
    usage: Json = {}
    tools: dict[int, int] = {}  # Anthropic block index -> tool-call index

    def chunk(delta: Json, finish: str | None = None, **extra: Any) -> Json:
        return {"id": message_id, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

    async for event in events:
        kind = event.get("type")
        if kind == "error" or ("error" in event and kind is None):
            yield {"error": event.get("error") or event}
            return
        if kind == "message_start":
            message = event.get("message") or {}
            message_id = message.get("id")
            usage.update(message.get("usage") or {})
            yield chunk({"role": "assistant"})
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") in ("tool_use", "server_tool_use"):
                tools[event.get("index", 0)] = index = len(tools)
                yield chunk({"tool_calls": [{"index": index, "id": block.get("id"), "type": "function",
                                             "function": {"name": block.get("name", ""), "arguments": ""}}]})
            elif block.get("type") == "text" and block.get("text"):
                yield chunk({"content": block["text"]})
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                yield chunk({"content": delta.get("text", "")})
            elif dtype == "thinking_delta":
                yield chunk({"thinking": {"content": delta.get("thinking", "")}})
            elif dtype == "signature_delta":
                yield chunk({"thinking": {"signature": delta.get("signature", "")}})
            elif dtype == "input_json_delta" and event.get("index") in tools:
                yield chunk({"tool_calls": [{"index": tools[event["index"]],
                                             "function": {"arguments": delta.get("partial_json", "")}}]})
        elif kind == "message_delta":
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            reason = (event.get("delta") or {}).get("stop_reason")
            yield chunk({}, FINISH.get(str(reason), "stop"), usage=openai_usage(usage))
        elif kind == "message_stop":
            return
