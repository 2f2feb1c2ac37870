"""Unified replies -> standard OpenAI Chat Completions objects, for POST /v1/chat/completions.

    completion(unified, reply)                   whole reply  -> `chat.completion`
    chunks(unified_chunks, reply, include_usage) stream       -> `chat.completion.chunk`s
    replay(completion, include_usage)            a whole reply as the chunks of a stream
    accumulate(chunks)                           a stream as one whole reply

Thinking (`thinking: {content, signature}`, `reasoning_content` or `reasoning`) becomes
`reasoning_content`; its signature goes out as `reasoning_signature` (not part of OpenAI's API:
a client that sends the assistant message back as it came keeps multi-turn thinking intact).
Finish reasons are OpenAI's; ids, `created` and `model` are always set. A stream's usage goes
out only as the final `choices: []` chunk, and only when the client asked for it
(`stream_options.include_usage`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ccr.errors import UpstreamError
from ccr.jsonlib import Json

from .common import reasoning_text

__all__ = ["Reply", "accumulate", "chunks", "completion", "replay", "usage_of"]

_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}


@dataclass(slots=True)
class Reply:
    """Who answers: fills id, created and model of every object, and collects the usage."""

    model: str
    label: str                      # "provider,model", for error messages
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    usage: Json | None = None

    def identify(self, upstream_id: Any) -> None:
        if not self.id:
            self.id = upstream_id if isinstance(upstream_id, str) and upstream_id else \
                f"chatcmpl-{uuid.uuid4().hex[:24]}"

    def head(self, kind: str) -> Json:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}


def usage_of(usage: Any) -> Json | None:
    if not isinstance(usage, dict) or not usage:
        return None
    prompt, completion_ = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    out = {**usage, "prompt_tokens": prompt, "completion_tokens": completion_,
           "total_tokens": int(usage.get("total_tokens") or prompt + completion_)}
    return out


def _finish(reason: Any, tools: bool) -> str | None:
    if not reason:
        return None
    mapped = reason if reason in _FINISH else "stop"
    return "tool_calls" if tools and mapped == "stop" else mapped


def _reasoning(message: Json, out: Json) -> None:
    text, signature, _ = reasoning_text(message)
    if text:
        out["reasoning_content"] = text
    if signature:
        out["reasoning_signature"] = signature


def _content(content: Any) -> str | None:
    if isinstance(content, list):  # some servers answer with parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict)) or None
    return content if isinstance(content, str) else None


def _arguments(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return "" if arguments is None else json.dumps(arguments, ensure_ascii=False)


def completion(unified: Json, reply: Reply) -> Json:
    if unified.get("error"):
        error = unified["error"]
        text = error.get("message") if isinstance(error, dict) else str(error)
        raise UpstreamError(f"{reply.label}: provider error: {text}", status=502)
    raw_choices = unified.get("choices")
    if not isinstance(raw_choices, list) or not raw_choices:
        raise UpstreamError(f"{reply.label}: provider reply has no choices: {json.dumps(unified)[:300]}",
                            status=502)
    reply.identify(unified.get("id"))
    choices = []
    for position, choice in enumerate(raw_choices):
        message = choice.get("message") or {}
        out: Json = {"role": "assistant", "content": _content(message.get("content")),
                     "refusal": message.get("refusal") if isinstance(message.get("refusal"), str) else None}
        _reasoning(message, out)
        calls = [{"id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                  "function": {"name": (call.get("function") or {}).get("name", ""),
                               "arguments": _arguments((call.get("function") or {}).get("arguments"))}}
                 for call in message.get("tool_calls") or ()]
        if calls:
            out["tool_calls"] = calls
        choices.append({"index": choice.get("index", position), "message": out, "logprobs": choice.get("logprobs"),
                        "finish_reason": _finish(choice.get("finish_reason") or "stop", bool(calls))})
    reply.usage = usage_of(unified.get("usage"))
    body = {**reply.head("chat.completion"), "choices": choices}
    if reply.usage:
        body["usage"] = reply.usage
    return body


@dataclass(slots=True)
class _Choice:
    started: bool = False
    finished: bool = False
    calls: dict[Any, int] = field(default_factory=dict)  # upstream key -> our index


async def chunks(unified: AsyncIterator[Json], reply: Reply, include_usage: bool,
                 done: Any = None) -> AsyncIterator[Json]:
    """`done()` says whether the upstream sent `[DONE]` (a stream that ends without a finish
    reason or [DONE] was cut off, and raises)."""
    states: dict[int, _Choice] = {}
    async for chunk in unified:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            error = chunk["error"]
            text = error.get("message") if isinstance(error, dict) else str(error)
            raise UpstreamError(f"{reply.label}: provider error mid-stream: {text}", status=502)
        reply.identify(chunk.get("id"))
        if chunk.get("usage"):
            reply.usage = usage_of(chunk["usage"])
        for position, choice in enumerate(chunk.get("choices") or ()):
            index = choice.get("index", position) if isinstance(choice.get("index"), int) else position
            state = states.setdefault(index, _Choice())
            source = choice.get("delta") or choice.get("message") or {}
            delta = _delta(source, state)
            finish = _finish(choice.get("finish_reason"), bool(state.calls))
            if not state.started and (delta or finish or source.get("role")):
                state.started = True  # the first chunk names the role, as OpenAI's does
                delta = {"role": "assistant", **(delta or {"content": ""})}
            elif not delta and not finish:
                continue
            state.finished = state.finished or bool(finish)
            yield {**reply.head("chat.completion.chunk"),
                   "choices": [{"index": index, "delta": delta, "logprobs": choice.get("logprobs"),
                                "finish_reason": finish}]}
    if not states and not (done and done()):
        raise UpstreamError(f"{reply.label}: the provider closed the stream without sending anything",
                            status=502)
    for index, state in sorted(states.items()):
        if not state.finished:
            if not (done and done()):
                raise UpstreamError(f"{reply.label}: the provider's stream ended before the reply was "
                                    "complete (no finish_reason)", status=502)
            yield {**reply.head("chat.completion.chunk"), "choices": [{
                "index": index, "delta": {}, "logprobs": None,
                "finish_reason": "tool_calls" if state.calls else "stop"}]}
    if include_usage:
        yield {**reply.head("chat.completion.chunk"), "choices": [], "usage": reply.usage or
               {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


def _delta(delta: Json, state: _Choice) -> Json:
    out: Json = {}
    _reasoning(delta, out)
    content = _content(delta.get("content"))
    if content:
        out["content"] = content
    calls = []
    for position, call in enumerate(delta.get("tool_calls") or ()):
        if not isinstance(call, dict):
            continue
        key = call.get("index", position)
        function = call.get("function") or {}
        first = key not in state.calls
        index = state.calls.setdefault(key, len(state.calls))
        arguments = _arguments(function.get("arguments"))
        if first:
            calls.append({"index": index, "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                          "type": "function",
                          "function": {"name": function.get("name") or "", "arguments": arguments}})
        elif arguments:
            calls.append({"index": index, "function": {"arguments": arguments}})
    if calls:
        out["tool_calls"] = calls
    return out


def replay(body: Json, include_usage: bool) -> list[Json]:
    """The chunks a stream of this `chat.completion` would have carried."""
    head = {**{k: body[k] for k in ("id", "created", "model")}, "object": "chat.completion.chunk"}
    out: list[Json] = []
    for choice in body["choices"]:
        message = choice["message"]
        delta: Json = {"role": "assistant"}
        for key in ("reasoning_content", "reasoning_signature", "content"):
            if message.get(key):
                delta[key] = message[key]
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        out.append({**head, "choices": [{"index": choice["index"], "delta": delta, "logprobs": None,
                                         "finish_reason": None}]})
        out.append({**head, "choices": [{"index": choice["index"], "delta": {}, "logprobs": None,
                                         "finish_reason": choice["finish_reason"]}]})
    if include_usage:
        out.append({**head, "choices": [], "usage": body.get("usage") or
                    {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})
    return out


async def accumulate(stream: AsyncIterator[Json]) -> Json:
    """One `chat.completion` from the chunks of `chunks(..., include_usage=True)`. Text and
    arguments are kept as lists of pieces and joined once at the end: linear in the stream."""
    head: Json = {}
    choices: dict[int, Json] = {}
    pieces: dict[tuple[int, str], list[str]] = {}              # (choice, field) -> text pieces
    arguments: dict[tuple[int, int], list[str]] = {}           # (choice, call) -> argument pieces
    usage: Json | None = None
    async for chunk in stream:
        head = {k: chunk[k] for k in ("id", "created", "model")}
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            position = choice["index"]
            merged = choices.setdefault(position, {
                "index": position, "logprobs": None, "finish_reason": None,
                "message": {"role": "assistant", "content": None, "refusal": None}})
            message, delta = merged["message"], choice["delta"]
            for key in ("content", "reasoning_content", "reasoning_signature"):
                if delta.get(key):
                    texts = pieces.get((position, key))
                    if texts is None:
                        pieces[position, key] = texts = []
                        message[key] = message.get(key) or ""  # its place among the keys
                    texts.append(delta[key])
            for call in delta.get("tool_calls") or ():
                calls = message.setdefault("tool_calls", [])
                if call["index"] == len(calls):
                    calls.append({"id": call["id"], "type": "function", "function": dict(call["function"])})
                else:  # a call never opened is an error (IndexError, KeyError), as it always was
                    first = calls[call["index"]]["function"]["arguments"]
                    arguments.setdefault((position, call["index"]), [first]).append(
                        call["function"].get("arguments", ""))
            merged["finish_reason"] = choice.get("finish_reason") or merged["finish_reason"]
    for (position, key), texts in pieces.items():
        choices[position]["message"][key] = "".join(texts)
    for (position, index), texts in arguments.items():
        choices[position]["message"]["tool_calls"][index]["function"]["arguments"] = "".join(texts)
    body = {**head, "object": "chat.completion", "choices": [choices[i] for i in sorted(choices)]}
    if usage:
        body["usage"] = usage
    return body
