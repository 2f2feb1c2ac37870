"""`enhancetool`: repair broken tool-call arguments before the client sees them.

Models (Qwen, small local models) send single-quoted keys, trailing commas, code fences or a
cut-off object; Claude Code then fails with "Invalid tool parameters". Arguments are parsed as
JSON, then JSON5, then repaired, else `{}` (see `_repair.py`). In streams each tool call is held
until its arguments are complete and sent as one piece.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ._repair import parse_tool_arguments
from .base import Context, Json, Transformer

__all__ = ["EnhanceTool"]


def _fixed(arguments: Any) -> str:
    if isinstance(arguments, str):
        try:
            if isinstance(json.loads(arguments), dict):
                return arguments
        except ValueError:
            pass
    return json.dumps(parse_tool_arguments(arguments), ensure_ascii=False)


class EnhanceTool(Transformer):
    name: ClassVar[str] = "enhancetool"

    async def response(self, body: Json, ctx: Context) -> Json:
        for choice in body.get("choices") or ():
            for call in (choice.get("message") or {}).get("tool_calls") or ():
                function = call.get("function")
                if isinstance(function, dict):
                    function["arguments"] = _fixed(function.get("arguments"))
        return body

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        held: Json | None = None     # the tool call being collected: index, id, name, arguments
        template: Json = {}

        def flush() -> Json | None:
            nonlocal held
            if held is None:
                return None
            call = {"index": held["index"], "id": held["id"], "type": "function",
                    "function": {"name": held["name"], "arguments": _fixed("".join(held["args"]))}}
            held = None
            return {**template, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}

        async for chunk in chunks:
            template = {k: v for k, v in chunk.items() if k in ("id", "model", "created", "object")}
            out: list[Json] = []
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("content") and held is not None:  # text after a tool call
                    done = flush()
                    if done:
                        out.append(done)
                for position, call in enumerate(delta.pop("tool_calls", None) or ()):
                    key = call.get("index", position)
                    function = call.get("function") or {}
                    if held is None or held["index"] != key:
                        done = flush()
                        if done:
                            out.append(done)
                        held = {"index": key, "id": call.get("id"), "name": function.get("name") or "",
                                "args": []}
                    if call.get("id") and not held["id"]:
                        held["id"] = call["id"]
                    if function.get("name") and not held["name"]:
                        held["name"] = function["name"]
                    arguments = function.get("arguments")
                    if arguments:
                        held["args"].append(arguments if isinstance(arguments, str) else json.dumps(arguments))
                if choice.get("finish_reason"):
                    done = flush()
                    if done:
                        out.append(done)
            for item in out:
                yield item
            yield chunk
        done = flush()
        if done:
            yield done
