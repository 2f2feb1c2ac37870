"""`reasoning`: turn thinking on or off for OpenAI-compatible hosts of open reasoning models.

Qwen (DashScope, vLLM, SGLang), GLM and others read `enable_thinking` and `thinking`. With the
client's thinking enabled (or `enable: true` and the client asking for reasoning) the request
gets `thinking: {"type": "enabled", "budget_tokens": N}` and `enable_thinking: true`; with
`enable: false` both say disabled. Replies need nothing here: `reasoning_content` already
becomes thinking at the Anthropic edge, and goes back to the same provider on the next turn.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Context, Json, Transformer, Upstream

__all__ = ["Reasoning"]


class Reasoning(Transformer):
    name: ClassVar[str] = "reasoning"
    options_schema: ClassVar[Json | None] = {
        "type": "object",
        "properties": {"enable": {"type": "boolean", "default": True,
                                  "description": "false: always ask the model not to think"}},
    }

    def __init__(self, *, enable: bool = True) -> None:
        if not isinstance(enable, bool):
            raise ValueError(f"option 'enable' must be true or false, got {enable!r}")
        self.enable = enable

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        if not self.enable:
            return up.with_body(thinking={"type": "disabled"}, enable_thinking=False)
        reasoning = up.body.get("reasoning")
        if not isinstance(reasoning, dict):
            return up
        if reasoning.get("enabled") is False:
            return up.with_body(thinking={"type": "disabled"}, enable_thinking=False)
        thinking: Json = {"type": "enabled"}
        if isinstance(reasoning.get("budget_tokens"), int):
            thinking["budget_tokens"] = reasoning["budget_tokens"]
        changes: Json = {"thinking": thinking, "enable_thinking": True}
        if "budget_tokens" in thinking:
            changes["thinking_budget"] = thinking["budget_tokens"]
        return up.with_body(**changes)
