"""Unified request -> Gemini `generateContent` body (pure; the dialect adds URL and auth).

    {"messages": [system, user, assistant(tool_calls), tool], "tools": [...], "reasoning": {...}}
 -> {"systemInstruction": {"parts": [...]}, "contents": [{"role": "user"|"model", "parts": [...]}],
     "tools": [{"functionDeclarations": [...]}], "toolConfig": {...}, "generationConfig": {...}}

Reference: https://ai.google.dev/api/generate-content and .../docs/thought-signatures.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .hub import (
    GEMINI3_LEVELS,
    Json,
    clamp_effort,
    dialect_payload,
    dialect_signature,
    text_of,
    unpack_tool_id,
)

__all__ = ["to_gemini", "gemini_signature", "SKIP_SIGNATURE"]

#: Google's documented stand-in for a function call from history that has no signature
SKIP_SIGNATURE = "skip_thought_signature_validator"
_DATA_URL = re.compile(r"^data:([^;,]+)?(?:;[^,]*)?,(.*)$", re.S)
_FINISH_SCHEMA_KEYS = ("$schema",)


def gemini_signature(thought_signature: str) -> str:
    """The thinking-block signature that holds a Gemini thoughtSignature (no other reaches Gemini)."""
    return dialect_signature("gemini", thought_signature)


def _media_part(url: str, media_type: str | None) -> Json:
    match = _DATA_URL.match(url)
    if match:
        return {"inlineData": {"mimeType": match.group(1) or media_type or "image/png",
                               "data": match.group(2)}}
    return {"fileData": {"mimeType": media_type or _guess_mime(url), "fileUri": url}}


def _guess_mime(url: str) -> str:
    lowered = url.lower().split("?", 1)[0]
    for ext, mime in ((".png", "image/png"), (".jpg", "image/jpeg"), (".jpeg", "image/jpeg"),
                      (".webp", "image/webp"), (".gif", "image/gif"), (".pdf", "application/pdf")):
        if lowered.endswith(ext):
            return mime
    return "image/png"


def _user_parts(content: Any) -> list[Json]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[Json] = []
    for part in content or ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and part.get("text"):
            parts.append({"text": part["text"]})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url:
                parts.append(_media_part(url, part.get("media_type")))
        elif kind == "file":
            data = (part.get("file") or {}).get("file_data", "")
            if data:
                parts.append(_media_part(data, "application/pdf"))
    return parts


def _thought_signature(thinking: Any) -> str | None:
    if isinstance(thinking, dict):
        return dialect_payload(thinking.get("signature"), "gemini")
    return None


def _model_parts(message: Json, names: dict[str, str], gemini3: bool) -> list[Json]:
    parts: list[Json] = []
    text = text_of(message.get("content"))
    if text:
        parts.append({"text": text})
    calls: list[Json] = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        base_id, signature = unpack_tool_id(call.get("id"))
        names[str(call.get("id", ""))] = str(function.get("name", ""))
        try:
            args = json.loads(function.get("arguments") or "{}")
        except ValueError:
            args = {}
        part: Json = {"functionCall": {"name": function.get("name", ""), "args": args}}
        if base_id and not base_id.startswith("toolu_"):
            part["functionCall"]["id"] = base_id
        if signature:
            part["thoughtSignature"] = signature
        calls.append(part)
    message_signature = _thought_signature(message.get("thinking"))
    if calls:
        # Parallel calls: only the first carries the step's signature.
        if "thoughtSignature" not in calls[0]:
            if message_signature:
                calls[0]["thoughtSignature"] = message_signature
            elif gemini3:
                calls[0]["thoughtSignature"] = SKIP_SIGNATURE
        parts.extend(calls)
    elif message_signature and parts:
        parts[-1]["thoughtSignature"] = message_signature
    return parts


def _tool_parts(message: Json, names: dict[str, str]) -> list[Json]:
    call_id = str(message.get("tool_call_id", ""))
    base_id, _ = unpack_tool_id(call_id)
    content = message.get("content")
    text = text_of(content) if not isinstance(content, str) else content
    try:
        result: Any = json.loads(text) if text.strip().startswith(("{", "[")) else text
    except ValueError:
        result = text
    response: Json = {"name": names.get(call_id, base_id or "tool"), "response": {"result": result}}
    if base_id and not base_id.startswith("toolu_"):
        response["id"] = base_id
    return [{"functionResponse": response}]


def _contents(messages: list[Json], gemini3: bool) -> tuple[list[Json], list[str]]:
    contents: list[Json] = []
    system: list[str] = []
    names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role == "system":
            text = text_of(message.get("content"))
            if text:
                system.append(text)
            continue
        if role == "assistant":
            gemini_role, parts = "model", _model_parts(message, names, gemini3)
        elif role == "tool":
            gemini_role, parts = "user", _tool_parts(message, names)
        else:
            gemini_role, parts = "user", _user_parts(message.get("content"))
        if not parts:
            continue
        if contents and contents[-1]["role"] == gemini_role:
            contents[-1]["parts"].extend(parts)   # parallel function responses share one turn
        else:
            contents.append({"role": gemini_role, "parts": parts})
    return contents, system


def _clean_schema(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _clean_schema(v) for k, v in schema.items() if k not in _FINISH_SCHEMA_KEYS}
    if isinstance(schema, list):
        return [_clean_schema(v) for v in schema]
    return schema


def _tools(tools: list[Json]) -> list[Json]:
    declarations: list[Json] = []
    out: list[Json] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            continue
        if function.get("name") == "web_search":
            out.append({"googleSearch": {}})
            continue
        declaration: Json = {"name": function.get("name", ""),
                             "description": function.get("description") or ""}
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = _clean_schema(function["parameters"])
        declarations.append(declaration)
    if declarations:
        out.insert(0, {"functionDeclarations": declarations})
    return out


def _tool_config(choice: Any) -> Json | None:
    if choice in ("auto", "none"):
        return {"functionCallingConfig": {"mode": choice.upper()}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"functionCallingConfig": {"mode": "ANY",
                                          "allowedFunctionNames": [choice["function"].get("name", "")]}}
    return None


def _thinking_config(reasoning: Any, model: str) -> Json | None:
    if not isinstance(reasoning, dict):
        return None
    lowered = model.lower()
    if reasoning.get("enabled") is False:
        if "gemini-3" in lowered or "pro" in lowered:
            return None   # these models cannot turn thinking off; leave their default
        return {"thinkingBudget": 0}
    config: Json = {"includeThoughts": True}
    if "gemini-3" in lowered:
        config["thinkingLevel"] = clamp_effort(reasoning.get("effort"), GEMINI3_LEVELS) or "high"
        return config
    budget = reasoning.get("budget_tokens")
    if isinstance(budget, int):
        low, high = (128, 32768) if "pro" in lowered else (0, 24576)
        config["thinkingBudget"] = max(low, min(high, budget))
    return config


def to_gemini(body: Json, model: str) -> Json:
    gemini3 = "gemini-3" in model.lower()
    contents, system = _contents(list(body.get("messages") or ()), gemini3)
    out: Json = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    tools = _tools(body.get("tools") or [])
    if tools:
        out["tools"] = tools
        config = _tool_config(body.get("tool_choice"))
        if config:
            out["toolConfig"] = config
    generation: Json = {}
    for ours, theirs in (("max_tokens", "maxOutputTokens"), ("max_completion_tokens", "maxOutputTokens"),
                         ("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"),
                         ("stop", "stopSequences")):
        if body.get(ours) is not None:
            generation[theirs] = body[ours]
    thinking = _thinking_config(body.get("reasoning"), model)
    if thinking:
        generation["thinkingConfig"] = thinking
    if generation:
        out["generationConfig"] = generation
    return out
