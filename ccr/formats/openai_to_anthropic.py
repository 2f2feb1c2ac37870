"""OpenAI Chat Completions request -> Anthropic Messages request, for native Anthropic providers.

    anthropic_request(body, model, provider) -> {"model", "system", "messages", "max_tokens", ...}

- system and developer messages (wherever they are) become the system prompt;
- consecutive tool messages become one user turn of `tool_result` blocks;
- images (data: URLs or http URLs) become image blocks, PDF files document blocks;
- thinking goes back only when the assistant message carries the `reasoning_signature` that
  ccr handed out with it; without one, a request that enables thinking after a tool call is
  sent without thinking (Anthropic rejects a tool loop whose last turn lost its thinking);
- reasoning_effort becomes `thinking.budget_tokens` (max_tokens is raised to fit it when the
  client gave none); parallel_tool_calls=false becomes disable_parallel_tool_use.
What has no Anthropic equivalent is refused (n > 1, logprobs, JSON response formats, audio)
or dropped (seed, penalties, logit_bias).
"""

from __future__ import annotations

import json
from typing import Any

from ccr.errors import RequestError
from ccr.jsonlib import Json
from ccr.transformers.hub import budget_for, is_ccr_signature, text_of

from .openai_in import refuse_beyond_one_choice, stop_list

__all__ = ["anthropic_request", "DEFAULT_MAX_TOKENS"]

DEFAULT_MAX_TOKENS = 8192


def anthropic_request(body: Json, model: str, provider: str) -> Json:
    refuse_beyond_one_choice(body, f"{provider},{model} (Anthropic API) cannot take")
    system: list[Json] = []
    messages: list[Json] = []
    for index, message in enumerate(body["messages"]):
        role = message["role"]
        if role in ("system", "developer"):
            text = text_of(message.get("content"))
            if text:
                system.append({"type": "text", "text": text})
        elif role == "tool":
            block = {"type": "tool_result", "tool_use_id": message["tool_call_id"],
                     "content": text_of(message.get("content"))}
            _user_turn(messages).append(block)
        elif role == "user":
            blocks = _parts(message.get("content"), index)
            if messages and messages[-1]["role"] == "user":
                messages[-1]["content"].extend(blocks)
            else:
                messages.append({"role": "user", "content": blocks})
        else:
            messages.append({"role": "assistant", "content": _assistant(message)})
    out: Json = {"model": model, "messages": messages}
    if system:
        out["system"] = system
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    out["max_tokens"] = max_tokens or DEFAULT_MAX_TOKENS
    for key in ("temperature", "top_p", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop"):
        out["stop_sequences"] = stop_list(body["stop"])
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    _tools(body, out)
    _thinking(body, out, explicit_max=bool(max_tokens))
    return out


def _user_turn(messages: list[Json]) -> list[Json]:
    if not messages or messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": []})
    content: list[Json] = messages[-1]["content"]
    return content


def _parts(content: Any, index: int) -> list[Json]:
    if isinstance(content, str) or content is None:
        return [{"type": "text", "text": content or ""}]
    blocks: list[Json] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            blocks.append({"type": "image", "source": _source(url)})
        elif kind == "file":
            data = str((part.get("file") or {}).get("file_data", ""))
            if not data.startswith("data:"):
                raise RequestError(f"messages[{index}].content: only inline files (file_data) can go "
                                   "to an Anthropic provider")
            blocks.append({"type": "document", "source": _source(data)})
        else:
            raise RequestError(f"messages[{index}].content: part type {kind!r} cannot go to an "
                               "Anthropic provider (text, image_url and file can)")
    return blocks


def _source(url: str) -> Json:
    if url.startswith("data:"):
        head, _, data = url[5:].partition(",")
        media = head.split(";", 1)[0] or "image/png"
        return {"type": "base64", "media_type": media, "data": data}
    return {"type": "url", "url": url}


def _assistant(message: Json) -> list[Json]:
    blocks: list[Json] = []
    reasoning, signature = message.get("reasoning_content"), message.get("reasoning_signature")
    if isinstance(reasoning, str) and isinstance(signature, str) and signature and not is_ccr_signature(signature):
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": signature})
    text = text_of(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": str(call.get("id", "")), "name": function.get("name", ""),
                       "input": _input(function.get("arguments"))})
    return blocks or [{"type": "text", "text": ""}]


def _input(arguments: Any) -> Json:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
    except ValueError:
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


def _tools(body: Json, out: Json) -> None:
    tools = body.get("tools")
    if not tools:
        return
    out["tools"] = [{"name": t["function"]["name"], "description": t["function"].get("description") or "",
                     "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}}}
                    for t in tools]
    choice = body.get("tool_choice")
    mapped: Json | None = None
    if choice == "auto":
        mapped = {"type": "auto"}
    elif choice == "none":
        mapped = {"type": "none"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name", "")}
    if body.get("parallel_tool_calls") is False:
        mapped = {**(mapped or {"type": "auto"}), "disable_parallel_tool_use": True}
    if mapped is not None:
        out["tool_choice"] = mapped


def _thinking(body: Json, out: Json, *, explicit_max: bool) -> None:
    budget = budget_for(body.get("reasoning_effort"))
    if not budget or _lost_thinking(out["messages"]):
        return
    if out["max_tokens"] <= budget:
        if not explicit_max:
            out["max_tokens"] = budget + DEFAULT_MAX_TOKENS
        elif out["max_tokens"] > 1024 + 1:
            budget = out["max_tokens"] - 1
        else:
            return  # too small for Anthropic's smallest budget (1024): answer without thinking
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    out.pop("temperature", None)  # Anthropic allows no temperature with thinking
    out.pop("top_p", None)


def _lost_thinking(messages: list[Json]) -> bool:
    """Does the last assistant turn call tools without its (signed) thinking?"""
    for message in reversed(messages):
        if message["role"] == "assistant":
            kinds = [b["type"] for b in message["content"]]
            return "tool_use" in kinds and kinds[0] != "thinking"
    return False

