"""Gemini replies (whole and streamed) -> unified OpenAI chat completions.

    {"candidates": [{"content": {"parts": [{"text": "..", "thought": true},
                                           {"functionCall": {..}, "thoughtSignature": ".."}]},
                     "finishReason": "STOP"}],
     "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 5, "thoughtsTokenCount": 20}}
 -> {"choices": [{"message"|"delta": {"thinking": {..}, "content": "..", "tool_calls": [..]},
                  "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 9, ...}}

A function call's thoughtSignature is packed into its tool id (see `hub.py`); a signature on
a text part becomes the thinking block's signature, prefixed so it only ever goes back to Gemini.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ._gemini_request import gemini_signature
from .hub import Json, new_tool_id, pack_tool_id

__all__ = ["from_gemini", "gemini_chunks", "usage_from_gemini", "GeminiError"]

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
           "RECITATION": "content_filter", "BLOCKLIST": "content_filter",
           "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
           "IMAGE_SAFETY": "content_filter", "LANGUAGE": "content_filter"}


class GeminiError(ValueError):
    """The reply is an error or has no candidate (e.g. a blocked prompt)."""


def usage_from_gemini(meta: Any) -> Json | None:
    if not isinstance(meta, dict):
        return None
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + int(meta.get("thoughtsTokenCount") or 0)
    usage: Json = {"prompt_tokens": prompt, "completion_tokens": completion,
                   "total_tokens": int(meta.get("totalTokenCount") or prompt + completion)}
    cached = int(meta.get("cachedContentTokenCount") or 0)
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return usage


def _candidate(body: Json) -> Json:
    if isinstance(body.get("error"), dict):
        raise GeminiError(str(body["error"].get("message") or json.dumps(body["error"])))
    candidates = body.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        feedback = body.get("promptFeedback") or {}
        if feedback.get("blockReason"):
            raise GeminiError(f"Gemini blocked the prompt: {feedback['blockReason']}")
        return {}
    return candidates[0] if isinstance(candidates[0], dict) else {}


def _finish(reason: Any, has_calls: bool) -> str | None:
    if not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    mapped = _FINISH.get(str(reason), "stop")
    return "tool_calls" if has_calls and mapped == "stop" else mapped


def _call(part: Json) -> Json:
    call = part["functionCall"]
    tool_id = pack_tool_id(str(call.get("id") or new_tool_id()), part.get("thoughtSignature"))
    return {"id": tool_id, "type": "function",
            "function": {"name": call.get("name", ""),
                         "arguments": json.dumps(call.get("args") or {}, ensure_ascii=False)}}


def from_gemini(body: Json, model: str) -> Json:
    candidate = _candidate(body)
    thoughts: list[str] = []
    texts: list[str] = []
    calls: list[Json] = []
    signature = None
    for part in (candidate.get("content") or {}).get("parts") or ():
        if not isinstance(part, dict):
            continue
        if part.get("functionCall"):
            calls.append(_call(part))
            continue
        if part.get("thoughtSignature") and signature is None:
            signature = part["thoughtSignature"]
        if isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    message: Json = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = [{**c, "index": i} for i, c in enumerate(calls)]
    if thoughts or signature:
        message["thinking"] = {"content": "".join(thoughts) or "(no content)"}
        if signature:
            message["thinking"]["signature"] = gemini_signature(signature)
    out: Json = {"id": body.get("responseId") or "", "object": "chat.completion",
                 "model": body.get("modelVersion") or model,
                 "choices": [{"index": 0, "message": message,
                              "finish_reason": _finish(candidate.get("finishReason"), bool(calls)) or "stop"}]}
    usage = usage_from_gemini(body.get("usageMetadata"))
    if usage:
        out["usage"] = usage
    return out


@dataclass(slots=True)
class _StreamState:
    last: str | None = None        # kind of the last thing sent: thinking, text, tool
    tools: int = 0
    calls: bool = False
    ids: set[str] = field(default_factory=set)


async def gemini_chunks(chunks: AsyncIterator[Json], model: str) -> AsyncIterator[Json]:
    state = _StreamState()
    async for body in chunks:
        if isinstance(body.get("error"), dict):
            yield body   # the edge ends the stream with an Anthropic error event
            continue
        try:
            candidate = _candidate(body)
        except GeminiError as exc:
            yield {"error": {"message": str(exc)}}
            continue
        delta: Json = {}
        thinking: Json = {}
        texts: list[str] = []
        calls: list[Json] = []
        for part in (candidate.get("content") or {}).get("parts") or ():
            if not isinstance(part, dict):
                continue
            if part.get("functionCall"):
                call = _call(part)
                call["index"] = state.tools
                state.tools += 1
                calls.append(call)
                continue
            text = part.get("text")
            if part.get("thought"):
                if text:
                    thinking["content"] = thinking.get("content", "") + text
                    state.last = "thinking"
            elif isinstance(text, str) and text:
                if part.get("thoughtSignature") and state.last in (None, "thinking"):
                    thinking["signature"] = gemini_signature(part["thoughtSignature"])
                texts.append(text)
                state.last = "text"
                continue
            if part.get("thoughtSignature") and state.last in (None, "thinking"):
                thinking["signature"] = gemini_signature(part["thoughtSignature"])
                state.last = "thinking"
        if thinking:
            delta["thinking"] = thinking
        if texts:
            delta["content"] = "".join(texts)
        if calls:
            delta["tool_calls"] = calls
            state.calls = True
            state.last = "tool"
        finish = _finish(candidate.get("finishReason"), state.calls)
        chunk: Json = {"id": body.get("responseId") or "", "object": "chat.completion.chunk",
                       "model": body.get("modelVersion") or model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        usage = usage_from_gemini(body.get("usageMetadata"))
        if usage:
            chunk["usage"] = usage
        yield chunk
