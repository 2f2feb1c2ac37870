"""The OpenAI chat-completions dialect: the default for any provider whose chain names none.

The unified shape already is OpenAI's, so this step only takes out what OpenAI-compatible
servers reject and maps what they name differently:

- system and user content: text parts joined to plain strings where possible (many local
  servers accept only strings); `cache_control` and image `media_type` removed;
- thinking on an assistant turn goes back as `reasoning_content`/`reasoning` only to the
  provider that produced it (DeepSeek-style models need it across tool calls; others reject it);
- `reasoning` becomes `reasoning_effort` when thinking was explicitly enabled, or for
  reasoning model families (o1/o3/o4, gpt-5); other models reject the field;
- `stream_options.include_usage` so that usage arrives with streams (option `include_usage`);
- tool names longer than OpenAI's 64 characters (or with other characters than
  `[A-Za-z0-9_-]`) are shortened with a hash suffix and mapped back in the reply.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ._util import strip_part
from .base import Context, Json, Transformer, Upstream
from .hub import OPENAI_EFFORTS, clamp_effort, is_reasoning_model, signature_field

__all__ = ["OpenAI", "flatten_text"]

_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def short_tool_name(name: str) -> str:
    if _VALID_NAME.match(name):
        return name
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{clean[:55]}_{digest}"


def flatten_text(content: Any) -> Any:
    """Text-only part lists become one string; lists with images or files stay lists."""
    if not isinstance(content, list):
        return content
    if all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "\n".join(p.get("text", "") for p in content)
    return [strip_part(p) for p in content]


class OpenAI(Transformer):
    name: ClassVar[str] = "openai"
    endpoint: ClassVar[str | None] = "/v1/chat/completions"
    dialect: ClassVar[bool] = True
    options_schema: ClassVar[Json | None] = {
        "type": "object",
        "properties": {
            "include_usage": {"type": "boolean", "default": True,
                              "description": "send stream_options.include_usage with streams"},
            "reasoning_effort": {"type": ["boolean", "null"], "default": None,
                                 "description": "always (true) or never (false) send reasoning_effort; "
                                                "null decides by model family"},
        },
    }

    def __init__(self, *, include_usage: bool = True, reasoning_effort: bool | None = None) -> None:
        self.include_usage = include_usage
        self.reasoning_effort = reasoning_effort

    def admit(self, body: Json, ctx: Context) -> Json:
        """OpenAI's API has no `top_k`: the client's is dropped (an adjuster may add one for a
        server that takes it, e.g. vLLM or SGLang)."""
        return {k: v for k, v in body.items() if k != "top_k"} if "top_k" in body else body

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = dict(up.body)
        names: dict[str, str] = {}
        body["messages"] = [self.message(m, ctx, names) for m in body.get("messages", ())]
        if body.get("tools"):
            body["tools"] = [self.tool(t, names) for t in body["tools"]]
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            fname = choice["function"].get("name", "")
            body["tool_choice"] = {"type": "function", "function": {"name": self._short(fname, names)}}
        if names:
            ctx.state["tool_names"] = names
        self.reasoning(body)
        if body.get("stream") and self.include_usage:
            body["stream_options"] = {"include_usage": True}
        return Upstream(up.url, body, up.headers)

    def reasoning(self, body: Json) -> None:
        reasoning = body.pop("reasoning", None)
        if not isinstance(reasoning, dict) or self.reasoning_effort is False:
            return
        effort = clamp_effort(reasoning.get("effort"), OPENAI_EFFORTS)
        if effort is None:
            return
        wanted = (self.reasoning_effort is True or reasoning.get("enabled") is True
                  or is_reasoning_model(str(body.get("model", ""))))
        if wanted and reasoning.get("enabled") is not False:
            body["reasoning_effort"] = effort

    @staticmethod
    def _short(name: str, names: dict[str, str]) -> str:
        short = short_tool_name(name)
        if short != name:
            names[short] = name
        return short

    def message(self, message: Json, ctx: Context, names: dict[str, str]) -> Json:
        message = dict(message)
        message.pop("cache_control", None)
        if "content" in message:
            message["content"] = flatten_text(message["content"])
        thinking = message.pop("thinking", None)
        if isinstance(thinking, dict) and thinking.get("content"):
            field = signature_field(thinking.get("signature"), ctx.provider.name)
            if field:
                message[field] = thinking["content"]
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = dict(call.get("function") or {})
                function["name"] = self._short(str(function.get("name", "")), names)
                calls.append({**call, "function": function})
            message["tool_calls"] = calls
        return message

    def tool(self, tool: Json, names: dict[str, str]) -> Json:
        function = tool.get("function")
        if not isinstance(function, dict):
            return tool
        return {**tool, "function": {**function, "name": self._short(str(function.get("name", "")), names)}}

    async def response(self, body: Json, ctx: Context) -> Json:
        names = ctx.state.get("tool_names")
        if names:
            for choice in body.get("choices") or ():
                for call in (choice.get("message") or {}).get("tool_calls") or ():
                    _restore(call, names)
        return body

    def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        """Restores shortened tool names; with none shortened, the stream is handed on as it is
        (no generator step per event)."""
        names = ctx.state.get("tool_names")
        return _restoring(chunks, names) if names else chunks


async def _restoring(chunks: AsyncIterator[Json], names: dict[str, str]) -> AsyncIterator[Json]:
    async for chunk in chunks:
        for choice in chunk.get("choices") or ():
            for call in (choice.get("delta") or {}).get("tool_calls") or ():
                _restore(call, names)
        yield chunk


def _restore(call: Json, names: dict[str, str]) -> None:
    function = call.get("function")
    if isinstance(function, dict) and function.get("name") in names:
        function["name"] = names[function["name"]]
