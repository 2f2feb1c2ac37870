"""Unified request -> OpenAI Responses API request (POST /v1/responses).

    {"messages": [system, user, assistant(tool_calls), tool], "tools": [...], "reasoning": {...}}
 -> {"instructions": "...", "input": [{"role": "user", "content": [{"type": "input_text", ...}]},
     {"type": "function_call", "call_id": .., "name": .., "arguments": ..},
     {"type": "function_call_output", "call_id": .., "output": ..}], "tools": [{"type": "function",
     "name": .., "parameters": ..}], "reasoning": {"effort": .., "summary": "auto"}, "store": false}

Reasoning items (with `encrypted_content`, since nothing is stored at OpenAI) come back from
the thinking block's signature and go in front of the assistant turn they belong to.
Reference: https://platform.openai.com/docs/api-reference/responses/create
"""

from __future__ import annotations

import json
from typing import Any

from .hub import (
    OPENAI_EFFORTS,
    Json,
    b64url,
    clamp_effort,
    dialect_payload,
    dialect_signature,
    is_reasoning_model,
    text_of,
    un_b64url,
)

__all__ = ["to_responses", "encode_reasoning", "decode_reasoning"]



def encode_reasoning(items: list[Json], provider: str) -> str:
    return dialect_signature("responses", b64url(json.dumps({"p": provider, "items": items})))


def decode_reasoning(signature: Any, provider: str) -> list[Json]:
    payload = dialect_payload(signature, "responses")
    if payload is None:
        return []
    try:
        data = json.loads(un_b64url(payload))
    except ValueError:
        return []
    if not isinstance(data, dict) or data.get("p") != provider or not isinstance(data.get("items"), list):
        return []
    return [i for i in data["items"] if isinstance(i, dict) and i.get("type") == "reasoning"]


def _user_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts: list[Json] = []
    for part in content or ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and part.get("text"):
            parts.append({"type": "input_text", "text": part["text"]})
        elif kind == "image_url" and (part.get("image_url") or {}).get("url"):
            parts.append({"type": "input_image", "image_url": part["image_url"]["url"], "detail": "auto"})
        elif kind == "file" and isinstance(part.get("file"), dict):
            parts.append({"type": "input_file", "filename": part["file"].get("filename") or "document.pdf",
                          "file_data": part["file"].get("file_data", "")})
    return parts


def _input(messages: list[Json], provider: str) -> tuple[list[Json], list[str]]:
    items: list[Json] = []
    instructions: list[str] = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            text = text_of(message.get("content"))
            if text:
                instructions.append(text)
        elif role == "user":
            content = _user_content(message.get("content"))
            if content:
                items.append({"role": "user", "content": content})
        elif role == "tool":
            content = message.get("content")
            items.append({"type": "function_call_output", "call_id": str(message.get("tool_call_id", "")),
                          "output": content if isinstance(content, str) else text_of(content)})
        elif role == "assistant":
            thinking = message.get("thinking")
            if isinstance(thinking, dict):
                items.extend(decode_reasoning(thinking.get("signature"), provider))
            text = text_of(message.get("content"))
            if text:
                items.append({"role": "assistant", "content": text})
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                items.append({"type": "function_call", "call_id": str(call.get("id", "")),
                              "name": function.get("name", ""),
                              "arguments": function.get("arguments") or "{}"})
    return items, instructions


def _tools(tools: list[Json]) -> list[Json]:
    out: list[Json] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            continue
        if function.get("name") == "web_search":
            out.append({"type": "web_search"})
            continue
        out.append({"type": "function", "name": function.get("name", ""),
                    "description": function.get("description") or "",
                    "parameters": function.get("parameters") or {"type": "object", "properties": {}},
                    "strict": False})
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "function", "name": choice["function"].get("name", "")}
    return None


def to_responses(body: Json, model: str, provider: str) -> Json:
    items, instructions = _input(list(body.get("messages") or ()), provider)
    out: Json = {"model": model, "input": items, "store": False, "stream": bool(body.get("stream"))}
    if instructions:
        out["instructions"] = "\n\n".join(instructions)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(limit, int):
        out["max_output_tokens"] = limit
    reasoning_model = is_reasoning_model(model)
    if not reasoning_model:
        for key in ("temperature", "top_p"):
            if body.get(key) is not None:
                out[key] = body[key]
    tools = _tools(body.get("tools") or [])
    if tools:
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
        if body.get("parallel_tool_calls") is False:
            out["parallel_tool_calls"] = False
    reasoning = body.get("reasoning")
    wanted = reasoning_model or (isinstance(reasoning, dict) and reasoning.get("enabled") is True)
    if wanted and not (isinstance(reasoning, dict) and reasoning.get("enabled") is False):
        config: Json = {"summary": "auto"}
        effort = clamp_effort((reasoning or {}).get("effort"), OPENAI_EFFORTS)
        if effort:
            config["effort"] = effort
        out["reasoning"] = config
        out["include"] = ["reasoning.encrypted_content"]
    return out
