"""`deepseek`: DeepSeek's chat API (an adjuster on top of the `openai` dialect).

- max_tokens is capped at what the model accepts (deepseek-chat 8192, deepseek-reasoner 65536;
  option `max_tokens` sets a cap for any model);
- the client's thinking setting becomes DeepSeek's `thinking: {"type": "enabled"|"disabled"}`
  (https://api-docs.deepseek.com/guides/thinking_mode: newer models think unless told not to,
  the legacy deepseek-chat only when asked);
- in thinking mode DeepSeek rejects an assistant turn with tool calls that lacks
  `reasoning_content` ("Missing reasoning_content field", claude-code-router #1050). The
  edge turns `reasoning_content` into a signed thinking block and the openai dialect sends it
  back to the same provider; when the client dropped that block, an empty field is sent so the
  tool loop still goes on.
"""

from __future__ import annotations

from typing import ClassVar

from ._options import optional_positive_int
from .base import Context, Json, Transformer, Upstream
from .hub import signature_field

__all__ = ["DeepSeek"]

_LIMITS = {"deepseek-chat": 8192, "deepseek-reasoner": 65536}
_NON_THINKING_BY_DEFAULT = frozenset({"deepseek-chat"})


class DeepSeek(Transformer):
    name: ClassVar[str] = "deepseek"
    options_schema: ClassVar[Json | None] = {
        "type": "object",
        "properties": {"max_tokens": {"type": "integer", "minimum": 1,
                                      "description": "cap (default: deepseek-chat 8192, "
                                                     "deepseek-reasoner 65536, others none)"}},
    }

    def __init__(self, *, max_tokens: int | None = None) -> None:
        self.max_tokens = optional_positive_int("max_tokens", max_tokens)

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = dict(up.body)
        model = str(body.get("model", ""))
        cap = self.max_tokens or _LIMITS.get(model.lower())
        if cap and (not isinstance(body.get("max_tokens"), int) or body["max_tokens"] > cap):
            body["max_tokens"] = cap
        reasoning = body.get("reasoning")
        wanted = reasoning.get("enabled") if isinstance(reasoning, dict) else None
        thinking_mode = model.lower() not in _NON_THINKING_BY_DEFAULT
        if wanted is True:
            body["thinking"], thinking_mode = {"type": "enabled"}, True
        elif wanted is False and "reasoner" not in model.lower():
            body["thinking"], thinking_mode = {"type": "disabled"}, False
        if thinking_mode:
            body["messages"] = [self._with_reasoning(m, ctx) for m in body.get("messages") or ()]
        return Upstream(up.url, body, up.headers)

    @staticmethod
    def _with_reasoning(message: Json, ctx: Context) -> Json:
        if message.get("role") != "assistant" or not message.get("tool_calls"):
            return message
        thinking = message.get("thinking")
        if isinstance(thinking, dict) and thinking.get("content") and \
                signature_field(thinking.get("signature"), ctx.provider.name):
            return message  # the openai dialect sends it back as reasoning_content
        return {**message, "thinking": None, "reasoning_content": ""}
