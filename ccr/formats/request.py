"""Anthropic Messages request -> unified (OpenAI chat completions) request.

Fields the unified shape has no place for are dropped here, once, rather than forwarded for a
provider to reject: metadata, context_management, container, mcp_servers, service_tier, the
`thinking` object itself (it becomes `reasoning`), cache_control outside content parts.

    {"system": [...], "messages": [...], "tools": [...], "thinking": {...}, "output_config": {...}}
 -> {"messages": [{"role": "system", ...}, ...], "tools": [{"type": "function", ...}],
     "reasoning": {"effort": "medium", "enabled": true, "budget_tokens": 4096}, ...}
"""

from __future__ import annotations

from typing import Any

from ccr import jsonlib
from ccr.errors import RequestError
from ccr.jsonlib import Json
from ccr.transformers.hub import effort_for_budget, text_of

from .validate import show

__all__ = ["to_unified"]


def to_unified(body: Json, model: str) -> Json:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise RequestError("messages: Field required (a list of {role, content} objects)")
    out: Json = {"model": model, "messages": _messages(body.get("system"), messages)}
    for key in ("max_tokens", "temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    if isinstance(body.get("stop_sequences"), list) and body["stop_sequences"]:
        out["stop"] = list(body["stop_sequences"])
    out["stream"] = bool(body.get("stream"))
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
        if isinstance(body.get("tool_choice"), dict) and body["tool_choice"].get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    reasoning = _reasoning(body)
    if reasoning:
        out["reasoning"] = reasoning
    return out


def _reasoning(body: Json) -> Json | None:
    thinking = body.get("thinking")
    effort = None
    config = body.get("output_config")
    if isinstance(config, dict) and isinstance(config.get("effort"), str):
        effort = config["effort"]
    if isinstance(thinking, dict):
        kind = thinking.get("type")
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if effort is None:
                effort = effort_for_budget(budget)
            return {"enabled": True, "effort": effort, "budget_tokens": budget}
        if kind == "disabled":
            return {"enabled": False}
        if kind == "adaptive":
            return {"enabled": None, "effort": effort or "medium"}
    if effort:
        return {"enabled": None, "effort": effort}
    return None


def _system_parts(system: Any) -> list[Json]:
    if isinstance(system, str):
        return [{"type": "text", "text": system}] if system else []
    parts = []
    if isinstance(system, list):
        for block in system:
            if isinstance(block, dict) and block.get("type") == "text" and block.get("text"):
                part: Json = {"type": "text", "text": block["text"]}
                if block.get("cache_control"):
                    part["cache_control"] = block["cache_control"]
                parts.append(part)
    return parts


def _messages(system: Any, messages: list[Any]) -> list[Json]:
    out: list[Json] = []
    system_parts = _system_parts(system)
    leading = True
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestError(f"messages.{index}: expected an object with role and content")
        role = message.get("role")
        content = message.get("content")
        if role == "system":
            # Claude Code puts mid-conversation system messages inside `messages`. Before the
            # first turn they join the system prompt; later ones become a user-side reminder,
            # since most chat templates accept a system message only at the start.
            if leading:
                system_parts.extend(_system_parts(content))
            else:
                text = text_of(content)
                if text:
                    out.append({"role": "user",
                                "content": f"<system-reminder>\n{text}\n</system-reminder>"})
            continue
        leading = False
        if role == "user":
            out.extend(_user(content, index))
        elif role == "assistant":
            out.append(_assistant(content, index))
        else:
            raise RequestError(f"messages.{index}.role: unexpected role {show(role)} "
                               "(expected user, assistant or system)")
    if system_parts:
        out.insert(0, {"role": "system", "content": system_parts})
    return out


def _image_part(block: Json) -> Json | None:
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    if source.get("type") == "base64":
        data = str(source.get("data", ""))
        # some clients send a full data URL already
        url = data if data.startswith("data:") else f"data:{source.get('media_type', 'image/png')};base64,{data}"
        return {"type": "image_url", "image_url": {"url": url}, "media_type": source.get("media_type")}
    if source.get("type") == "url" and source.get("url"):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    return None


def _document_part(block: Json) -> Json | None:
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": str(source.get("data", ""))}
    if kind == "base64":
        media = source.get("media_type", "application/pdf")
        return {"type": "file", "file": {"filename": block.get("title") or "document.pdf",
                                         "file_data": f"data:{media};base64,{source.get('data', '')}"}}
    if kind == "url" and source.get("url"):
        return {"type": "text", "text": f"[document: {source['url']}]"}
    if kind == "content" and isinstance(source.get("content"), list):
        return {"type": "text", "text": text_of(source["content"])}
    return None


def _content_parts(blocks: list[Any]) -> list[Json]:
    parts: list[Json] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        part: Json | None = None
        if kind == "text":
            if not block.get("text"):
                continue
            part = {"type": "text", "text": block["text"]}
        elif kind == "image":
            part = _image_part(block)
        elif kind == "document":
            part = _document_part(block)
        elif kind == "tool_reference":  # tool search results: name the loaded tool
            part = {"type": "text", "text": f"Tool loaded: {block.get('tool_name', '')}"}
        elif kind == "search_result":
            part = {"type": "text", "text": text_of(block.get("content"))}
        if part is None:
            continue
        if block.get("cache_control") and part.get("type") == "text":
            part["cache_control"] = block["cache_control"]
        parts.append(part)
    return parts


def _tool_result(block: Json) -> tuple[Json, list[Json]]:
    """A tool message, and any images of the result (tool messages carry text only)."""
    content = block.get("content")
    images: list[Json] = []
    if isinstance(content, list):
        parts = _content_parts(content)
        texts = [p["text"] for p in parts if p.get("type") == "text"]
        images = [p for p in parts if p.get("type") == "image_url"]
        text = "\n".join(texts)
    elif content is None:
        text = ""
    else:
        text = content if isinstance(content, str) else jsonlib.compact(content)
    if block.get("is_error") and not text.lower().startswith("error"):
        text = f"Error: {text}" if text else "Error"
    message: Json = {"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text}
    if block.get("cache_control"):
        message["cache_control"] = block["cache_control"]
    return message, images


def _user(content: Any, index: int) -> list[Json]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise RequestError(f"messages.{index}.content: expected a string or a list of blocks")
    out: list[Json] = []
    images: list[Json] = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            message, found = _tool_result(block)
            out.append(message)
            images.extend(found)
    others = [b for b in content if not (isinstance(b, dict) and b.get("type") == "tool_result")]
    parts = images + _content_parts(others)
    if parts:
        out.append({"role": "user", "content": parts})
    elif not out:
        out.append({"role": "user", "content": ""})
    return out


def _assistant(content: Any, index: int) -> Json:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise RequestError(f"messages.{index}.content: expected a string or a list of blocks")
    texts: list[str] = []
    calls: list[Json] = []
    thinking: Json | None = None
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            texts.append(block["text"])
        elif kind in ("tool_use", "server_tool_use"):
            calls.append({
                "id": str(block.get("id", "")),
                "type": "function",
                "function": {"name": block.get("name", ""),
                             "arguments": jsonlib.compact(block.get("input") or {})},
            })
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            # Interleaved thinking (several blocks between tool calls) goes back as one text.
            if thinking is None:
                thinking = {"content": block["thinking"], "signature": block.get("signature")}
            else:
                thinking["content"] += "\n" + block["thinking"]
    message: Json = {"role": "assistant", "content": "\n".join(texts) if texts else (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    if thinking is not None:
        message["thinking"] = thinking
    return message


def _tools(tools: Any) -> list[Json]:
    if not isinstance(tools, list):
        return []
    out = []
    for tool in tools:
        if not isinstance(tool, dict) or not tool.get("name"):
            continue
        kind = str(tool.get("type") or "custom")
        if kind.startswith("web_search"):
            out.append({"type": "function", "function": {
                "name": "web_search",
                "description": "Search the web for current information.",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                               "required": ["query"]}}})
            continue
        if kind != "custom" and "input_schema" not in tool:
            continue  # other server tools (code execution, computer use) have no equivalent
        # Deferred tools (tool search) are sent whole: other providers cannot load them later.
        out.append({"type": "function", "function": {
            "name": tool["name"],
            "description": tool.get("description") or "",
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
        }})
    return out


def _tool_choice(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return None
    kind = choice.get("type")
    if kind == "any":
        return "required"
    if kind == "tool" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    if kind in ("auto", "none"):
        return kind
    return None
