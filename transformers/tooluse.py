"""`tooluse`: make weak tool callers call a tool every turn, with `ExitTool` as the way out.

Request: a reminder joins the system prompt, `tool_choice` becomes "required" and the
`ExitTool(response)` tool is added. Reply: an ExitTool call is turned back into plain assistant
text (whole replies and streams), so the client never sees the extra tool.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from .base import Context, Json, Transformer, Upstream

__all__ = ["ToolUse", "EXIT_TOOL"]

EXIT_TOOL = "ExitTool"
REMINDER = (
    "<system-reminder>Tool mode is active. The user expects you to proactively execute the most "
    "suitable tool to help complete the task.\nBefore invoking a tool, you must carefully evaluate "
    "whether it matches the current task. If no available tool is appropriate for the task, you "
    f"MUST call the `{EXIT_TOOL}` to exit tool mode; this is the only valid way to terminate tool "
    "mode.\nAlways prioritize completing the user's task effectively and efficiently by using "
    "tools whenever appropriate.</system-reminder>")
_TOOL: Json = {"type": "function", "function": {
    "name": EXIT_TOOL,
    "description": (
        "Use this tool when you are in tool mode and have completed the task. This is the only "
        "valid way to exit tool mode.\nIMPORTANT: Before using this tool, ensure that none of the "
        "available tools are applicable to the current task. Only if no suitable tool can help you "
        f"complete the task should you use {EXIT_TOOL} to terminate tool mode."),
    "parameters": {"type": "object", "required": ["response"], "properties": {"response": {
        "type": "string",
        "description": "Your response; it is forwarded to the user exactly as written."}}},
}}


def _exit_text(arguments: Any) -> str:
    if isinstance(arguments, dict):
        value = arguments.get("response", "")
    else:
        try:
            value = json.loads(arguments or "{}").get("response", "")
        except (ValueError, AttributeError):
            value = arguments or ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class ToolUse(Transformer):
    name: ClassVar[str] = "tooluse"

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = dict(up.body)
        messages = list(body.get("messages") or ())
        if messages and messages[0].get("role") == "system":
            system = messages[0].get("content")
            parts = system if isinstance(system, list) else [{"type": "text", "text": system or ""}]
            messages[0] = {**messages[0], "content": [*parts, {"type": "text", "text": REMINDER}]}
        else:
            messages.insert(0, {"role": "system", "content": REMINDER})
        body["messages"] = messages
        if body.get("tools"):
            body["tool_choice"] = "required"
            body["tools"] = [*body["tools"], _TOOL]
        return Upstream(up.url, body, up.headers)

    async def response(self, body: Json, ctx: Context) -> Json:
        for choice in body.get("choices") or ():
            message = choice.get("message") or {}
            calls = message.get("tool_calls") or []
            exits = [c for c in calls if (c.get("function") or {}).get("name") == EXIT_TOOL]
            if not exits:
                continue
            texts = [message["content"]] if isinstance(message.get("content"), str) and message["content"] else []
            texts += [_exit_text(c["function"].get("arguments")) for c in exits]
            message["content"] = "\n".join(texts)
            message["tool_calls"] = [c for c in calls if c not in exits] or None
            if not message["tool_calls"]:
                message.pop("tool_calls")
                if choice.get("finish_reason") == "tool_calls":
                    choice["finish_reason"] = "stop"
        return body

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        exit_index: Any = None       # upstream index of the ExitTool call, once seen
        arguments: list[str] = []
        other_tools = False
        async for chunk in chunks:
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                kept = []
                for position, call in enumerate(delta.get("tool_calls") or ()):
                    key = call.get("index", position)
                    function = call.get("function") or {}
                    if function.get("name") == EXIT_TOOL:
                        exit_index = key
                    if key == exit_index and exit_index is not None:
                        if function.get("arguments"):
                            arguments.append(str(function["arguments"]) if not isinstance(
                                function["arguments"], dict) else json.dumps(function["arguments"]))
                        continue
                    other_tools = True
                    kept.append(call)
                if "tool_calls" in delta:
                    if kept:
                        delta["tool_calls"] = kept
                    else:
                        delta.pop("tool_calls")
                if choice.get("finish_reason") and exit_index is not None:
                    delta["content"] = (delta.get("content") or "") + _exit_text("".join(arguments))
                    choice["delta"] = delta
                    if choice["finish_reason"] == "tool_calls" and not other_tools:
                        choice["finish_reason"] = "stop"
                    exit_index, arguments = None, []
            yield chunk
