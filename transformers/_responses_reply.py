"""OpenAI Responses API replies (whole and streamed) -> unified OpenAI chat completions.

Stream events used (https://platform.openai.com/docs/api-reference/responses-streaming):
response.created, response.output_item.added / .done, response.output_text.delta,
response.refusal.delta, response.function_call_arguments.delta,
response.reasoning_summary_text.delta, response.reasoning_summary_part.added,
response.reasoning_text.delta, response.completed / .incomplete / .failed, error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ._responses_request import encode_reasoning
from .hub import Json

__all__ = ["from_responses", "responses_chunks", "usage_from_responses", "ResponsesError"]


class ResponsesError(ValueError):
    pass


def usage_from_responses(usage: Any) -> Json | None:
    if not isinstance(usage, dict):
        return None
    out: Json = {"prompt_tokens": int(usage.get("input_tokens") or 0),
                 "completion_tokens": int(usage.get("output_tokens") or 0),
                 "total_tokens": int(usage.get("total_tokens") or 0)}
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens")
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": int(cached)}
    return out


def _finish(response: Json, has_calls: bool) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if has_calls else "stop"


def _reasoning_item(item: Json) -> Json:
    kept: Json = {k: item[k] for k in ("type", "id", "encrypted_content", "summary") if k in item}
    kept["summary"] = kept.get("summary") or []
    return kept


def _summary_text(item: Json) -> str:
    texts = [s.get("text", "") for s in item.get("summary") or () if isinstance(s, dict)]
    texts += [c.get("text", "") for c in item.get("content") or () if isinstance(c, dict)
              and c.get("type") == "reasoning_text"]
    return "\n\n".join(t for t in texts if t)


def from_responses(body: Json, model: str, provider: str) -> Json:
    if body.get("error"):
        error = body["error"]
        raise ResponsesError(str(error.get("message") if isinstance(error, dict) else error))
    texts, calls, thoughts, reasoning = [], [], [], []
    for item in body.get("output") or ():
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    texts.append(part.get("text", ""))
                elif part.get("type") == "refusal":
                    texts.append(part.get("refusal", ""))
        elif kind == "function_call":
            calls.append({"id": item.get("call_id") or item.get("id"), "type": "function",
                          "function": {"name": item.get("name", ""), "arguments": item.get("arguments") or "{}"}})
        elif kind == "reasoning":
            reasoning.append(_reasoning_item(item))
            if _summary_text(item):
                thoughts.append(_summary_text(item))
    message: Json = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if reasoning and (thoughts or any(r.get("encrypted_content") for r in reasoning)):
        message["thinking"] = {"content": "\n\n".join(thoughts) or "(no content)",
                               "signature": encode_reasoning(reasoning, provider)}
    out: Json = {"id": body.get("id") or "", "object": "chat.completion", "model": body.get("model") or model,
                 "choices": [{"index": 0, "message": message, "finish_reason": _finish(body, bool(calls))}]}
    usage = usage_from_responses(body.get("usage"))
    if usage:
        out["usage"] = usage
    return out


async def responses_chunks(events: AsyncIterator[Json], model: str, provider: str) -> AsyncIterator[Json]:
    calls: dict[str, int] = {}       # output item id -> tool call index
    response_id, response_model = "", model

    def chunk(delta: Json, finish: str | None = None, usage: Json | None = None) -> Json:
        out: Json = {"id": response_id, "object": "chat.completion.chunk", "model": response_model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage:
            out["usage"] = usage
        return out

    async for event in events:
        if "error" in event and "type" not in event:
            yield event           # an `event: error` frame, already wrapped by the reader
            continue
        kind = event.get("type")
        if kind == "error":
            yield {"error": {"message": event.get("message"), "code": event.get("code")}}
        elif kind == "response.created":
            response = event.get("response") or {}
            response_id, response_model = response.get("id") or "", response.get("model") or model
            yield chunk({"role": "assistant"})
        elif kind == "response.output_text.delta" or kind == "response.refusal.delta":
            if event.get("delta"):
                yield chunk({"content": event["delta"]})
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            if event.get("delta"):
                yield chunk({"thinking": {"content": event["delta"]}})
        elif kind == "response.reasoning_summary_part.added" and event.get("summary_index", 0) > 0:
            yield chunk({"thinking": {"content": "\n\n"}})
        elif kind == "response.output_item.added":
            item = event.get("item") or {}
            if item.get("type") == "function_call":
                index = calls[str(item.get("id"))] = len(calls)
                yield chunk({"tool_calls": [{"index": index, "id": item.get("call_id") or item.get("id"),
                                             "type": "function", "function": {"name": item.get("name", ""),
                                                                              "arguments": ""}}]})
        elif kind == "response.function_call_arguments.delta":
            found = calls.get(str(event.get("item_id")))
            if found is not None and event.get("delta"):
                yield chunk({"tool_calls": [{"index": found, "function": {"arguments": event["delta"]}}]})
        elif kind == "response.output_item.done":
            item = event.get("item") or {}
            if item.get("type") == "reasoning" and (item.get("encrypted_content") or item.get("summary")):
                yield chunk({"thinking": {"signature": encode_reasoning([_reasoning_item(item)], provider)}})
        elif kind in ("response.completed", "response.incomplete"):
            response = event.get("response") or {}
            yield chunk({}, _finish(response, bool(calls)), usage_from_responses(response.get("usage")))
        elif kind == "response.failed":
            error = (event.get("response") or {}).get("error") or {}
            yield {"error": {"message": error.get("message") or "the response failed",
                             "code": error.get("code")}}
