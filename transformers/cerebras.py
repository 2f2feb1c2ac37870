"""`cerebras`: Cerebras Inference (an adjuster on top of the `openai` dialect).

Cerebras rejects `cache_control` and `$schema` in tool parameters. Thinking is controlled by
`disable_reasoning` on its reasoning models: a client that turned thinking off gets
`disable_reasoning: true`; otherwise `reasoning_effort` follows the client's effort for the
models that take it (gpt-oss).
"""

from __future__ import annotations

from typing import ClassVar

from ._util import copy_body, strip_cache_control
from .base import Context, Transformer, Upstream
from .groq import without_schema_key
from .hub import CEREBRAS_EFFORTS, clamp_effort

__all__ = ["Cerebras"]


class Cerebras(Transformer):
    name: ClassVar[str] = "cerebras"

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = copy_body(up.body)
        strip_cache_control(body)
        without_schema_key(body)
        reasoning = body.pop("reasoning", None)
        if isinstance(reasoning, dict):
            if reasoning.get("enabled") is False:
                body["disable_reasoning"] = True
            elif "gpt-oss" in str(body.get("model", "")):
                effort = clamp_effort(reasoning.get("effort"), CEREBRAS_EFFORTS)
                if effort:
                    body["reasoning_effort"] = effort
        return Upstream(up.url, body, up.headers)
