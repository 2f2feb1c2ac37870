"""OpenAI Chat Completions requests (POST /v1/chat/completions) as ccr's other parts need them.

    validate_chat(body)          raise RequestError for a request ccr cannot serve
    hub_request(body, model)     -> the unified request the transformer chains take
    router_view(body)            -> an Anthropic-shaped view for the Router (rules, token count)

The unified shape is OpenAI's own, so `hub_request` mostly copies: it keeps the parameters
every dialect understands (or that the openai dialect passes on), maps `max_completion_tokens`
and `reasoning_effort`, turns `developer` messages into `system` ones, and takes back thinking
that ccr handed out (`reasoning_content` + `reasoning_signature` on an assistant message).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ccr.errors import RequestError
from ccr.jsonlib import Json
from ccr.transformers.hub import EFFORTS, budget_for, text_of

from .validate import check_model_name, check_number, show

__all__ = ["validate_chat", "refuse_beyond_one_choice", "hub_request", "router_view", "stop_list",
           "PASSED"]


#: Request keys passed on to the chain as they are (the rest of the OpenAI API is dropped).
PASSED = ("temperature", "top_p", "n", "seed", "user", "response_format", "tools", "tool_choice",
          "parallel_tool_calls", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
          "top_logprobs")
_ROLES = ("system", "developer", "user", "assistant", "tool")
_EFFORTS = ("none", *EFFORTS)
_SUBAGENT = re.compile(r"<CCR-SUBAGENT-MODEL>.*?</CCR-SUBAGENT-MODEL>", re.S)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def validate_chat(body: Json) -> None:
    """Check what ccr relies on, with OpenAI-style parameter paths (`messages[1].role`)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RequestError('model: required (a model name, or "provider,model")')
    check_model_name(model)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(f"messages: expected a non-empty list of messages, got {_kind(messages)}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestError(f"messages[{i}]: expected an object, got {_kind(message)}")
        role = message.get("role")
        if role not in _ROLES:
            raise RequestError(f"messages[{i}].role: expected one of {', '.join(_ROLES)}, got {show(role)}")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise RequestError(f"messages[{i}].content: expected a string or a list of parts")
        if isinstance(content, list):
            _parts(content, f"messages[{i}].content")
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise RequestError(f"messages[{i}].tool_call_id: required for a tool message")
        calls = message.get("tool_calls")
        if calls is not None and not (isinstance(calls, list) and all(
                isinstance(c, dict) and isinstance(c.get("function"), dict) for c in calls)):
            raise RequestError(f"messages[{i}].tool_calls: expected a list of "
                               "{\"id\", \"type\": \"function\", \"function\": {name, arguments}}")
    for legacy in ("functions", "function_call"):
        if body.get(legacy) is not None:
            raise RequestError(f"{legacy}: the deprecated functions API is not supported; use tools")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise RequestError(f"tools: expected a list, got {_kind(tools)}")
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise RequestError(f"tools[{i}]: expected {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}")
    for key in ("max_tokens", "max_completion_tokens", "n"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise RequestError(f"{key}: expected a positive whole number, got {show(value)}")
    for key in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        check_number(body, key)
    _tool_choice(body.get("tool_choice"))
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _EFFORTS:
        raise RequestError(f"reasoning_effort: expected one of {', '.join(_EFFORTS)}, got {show(effort)}")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise RequestError(f"stream: expected true or false, got {show(body['stream'])}")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise RequestError(f"stream_options: expected an object, got {_kind(options)}")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
            isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise RequestError("stop: expected a string or a list of strings")


def _parts(content: list[Any], where: str) -> None:
    """Content parts: objects with a string `type`; a text part's `text` is a string."""
    for j, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise RequestError(f"{where}[{j}]: expected a content part object with a `type`, got {_kind(part)}")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise RequestError(f"{where}[{j}].text: expected a string, got {_kind(part.get('text'))}")
        if part["type"] == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise RequestError(f"{where}[{j}].image_url.url: expected a string (an https: or data: URL)")


def _tool_choice(value: Any) -> None:
    """"none" | "auto" | "required" | {"type": "function", "function": {"name": str}}."""
    if value is None or isinstance(value, str):
        return
    function = value.get("function") if isinstance(value, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise RequestError('tool_choice: expected "none", "auto", "required" or '
                           '{"type": "function", "function": {"name": "..."}}')


def refuse_beyond_one_choice(body: Json, where: str) -> None:
    """For providers that answer with one plain-text choice (all but the openai dialect):
    refuse what would otherwise be silently lost. `where` says who cannot take it."""
    if (body.get("n") or 1) > 1:
        raise RequestError(f"n: {where} several choices; use n=1")
    if body.get("logprobs"):
        raise RequestError(f"logprobs: {where} log probabilities")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise RequestError(f"response_format: {where} a {response_format.get('type')} response format; "
                           "describe the format in the prompt or use a tool")


def stop_list(stop: Any) -> list[str]:
    return [stop] if isinstance(stop, str) else list(stop or ())


def hub_request(body: Json, model: str) -> Json:
    out: Json = {"model": model, "messages": [_hub_message(m) for m in body["messages"]],
                 "stream": bool(body.get("stream"))}
    for key in PASSED:
        if body.get(key) is not None:
            out[key] = body[key]
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    if max_tokens:
        out["max_tokens"] = max_tokens
    if body.get("stop"):
        out["stop"] = stop_list(body["stop"])
    effort = body.get("reasoning_effort")
    if effort == "none":
        out["reasoning"] = {"enabled": False}
    elif effort:
        out["reasoning"] = {"enabled": True, "effort": effort, "budget_tokens": budget_for(effort)}
    return out


def _hub_message(message: Json) -> Json:
    role = "system" if message["role"] == "developer" else message["role"]
    out: Json = {"role": role, "content": message.get("content")}
    if role == "system":
        out["content"] = _strip_tag(out["content"])
    elif role == "tool":
        out["tool_call_id"] = message["tool_call_id"]
        out["content"] = text_of(message.get("content"))
    elif role == "assistant":
        if message.get("tool_calls"):  # only what the API defines (SDK dumps carry `index`)
            out["tool_calls"] = [{"id": c.get("id", ""), "type": "function",
                                  "function": {"name": c["function"].get("name", ""),
                                               "arguments": _argument_text(c["function"].get("arguments"))}}
                                 for c in message["tool_calls"]]
        reasoning, signature = message.get("reasoning_content"), message.get("reasoning_signature")
        if isinstance(reasoning, str) and isinstance(signature, str) and signature:
            out["thinking"] = {"content": reasoning, "signature": signature}  # ccr gave these out
        elif isinstance(reasoning, str) and reasoning:
            out["reasoning_content"] = reasoning  # DeepSeek-style clients hand it back as is
    if isinstance(message.get("name"), str) and role in ("user", "assistant"):
        out["name"] = message["name"]
    return out


def _argument_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)


def _strip_tag(content: Any) -> Any:
    """The Router reads <CCR-SUBAGENT-MODEL> tags from the view; no provider should see them."""
    if isinstance(content, str) and "<CCR-SUBAGENT-MODEL>" in content:
        return _SUBAGENT.sub("", content)
    if isinstance(content, list):
        return [{**p, "text": _SUBAGENT.sub("", p["text"])} if isinstance(p, dict)
                and isinstance(p.get("text"), str) else p for p in content]
    return content


def router_view(body: Json) -> Json:
    """What the Router and the token counter look at, in the Anthropic shape they know."""
    system: list[Json] = []
    messages: list[Json] = []
    for message in body["messages"]:
        role, content = message["role"], message.get("content")
        if role in ("system", "developer"):
            system.append({"type": "text", "text": text_of(content)})
        elif role == "tool":
            messages.append({"role": "user", "content": [{"type": "tool_result", "content": text_of(content),
                                                          "tool_use_id": message.get("tool_call_id", "")}]})
        else:
            blocks: list[Json] = [{"type": "text", "text": text_of(content)}]
            if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "image_url"
                                                 for p in content):
                blocks.append({"type": "image", "source": {"type": "url", "url": ""}})
            for call in (message.get("tool_calls") or ()) if role == "assistant" else ():
                function = call.get("function") or {}
                blocks.append({"type": "tool_use", "id": call.get("id", ""), "name": function.get("name", ""),
                               "input": _arguments(function.get("arguments"))})
            messages.append({"role": role, "content": blocks})
    view: Json = {"model": body["model"], "messages": messages, "system": system}
    tools = [t["function"] for t in body.get("tools") or ()
             if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    if tools:
        view["tools"] = [{"name": f.get("name", ""), "description": f.get("description") or "",
                          "input_schema": f.get("parameters") or {"type": "object"}} for f in tools]
    budget = budget_for(body.get("reasoning_effort"))
    if budget:
        view["thinking"] = {"type": "enabled", "budget_tokens": budget}
    return view


def _arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return arguments
    return arguments if arguments is not None else {}
