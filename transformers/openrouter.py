"""The OpenRouter dialect (OpenAI chat completions plus OpenRouter's extensions).

- options are merged into every request body, as in claude-code-router, e.g. provider routing:
  `["openrouter", {"provider": {"only": ["anthropic"], "allow_fallbacks": false}}]`;
- `reasoning` goes out in OpenRouter's shape (`{"max_tokens": N}` or `{"effort": ...}`);
- `cache_control` stays on text parts for Anthropic models (prompt caching) and is removed for
  the others; images are sent as the edge built them (one `data:` prefix, #372);
- reasoning round trip (https://openrouter.ai/docs/use-cases/reasoning-tokens): replies carry
  `reasoning_details` (Anthropic signatures, Gemini's encrypted thought signatures). They are
  kept in the thinking block's signature and packed into the first tool call's id, and sent
  back as the assistant message's `reasoning_details` next turn, which keeps Gemini 3 and
  Claude tool loops valid through OpenRouter (claude-code-router #1057, #1431). Tool calls
  are therefore passed on whole, when the reply finishes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ._util import copy_body, strip_cache_control, strip_part
from .base import Context, Json, Upstream
from .hub import (
    OPENAI_EFFORTS,
    b64url,
    clamp_effort,
    dialect_payload,
    dialect_signature,
    pack_tool_id,
    signature_field,
    un_b64url,
    unpack_tool_id,
)
from .openai import OpenAI

__all__ = ["OpenRouter"]


def _signature(details: list[Json]) -> str:
    return dialect_signature("openrouter", b64url(json.dumps(details)))


def _is_claude(model: str) -> bool:
    lowered = model.lower()
    return lowered.startswith("anthropic/") or "claude" in lowered


def _lean(details: list[Json]) -> list[Json]:
    """Details without their reasoning text (the thinking block carries that)."""
    return [{k: v for k, v in d.items() if k != "text"} for d in details]


def _unpack_details(packed: str | None) -> list[Json] | None:
    if not packed:
        return None
    try:
        value = json.loads(packed)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


class _Details:
    """reasoning_details collected from a stream, merged by index."""

    def __init__(self) -> None:
        self.items: dict[Any, Json] = {}

    def add(self, details: Any) -> str:
        text = []
        for position, detail in enumerate(details if isinstance(details, list) else ()):
            if not isinstance(detail, dict):
                continue
            key = detail.get("index", position)
            if detail.get("type") == "reasoning.text" and detail.get("text"):
                text.append(detail["text"])
            elif detail.get("type") == "reasoning.summary" and detail.get("summary"):
                text.append(detail["summary"])
            seen = self.items.setdefault(key, {})
            for name, value in detail.items():
                if name in ("text", "summary") and isinstance(value, str):
                    seen[name] = seen.get(name, "") + value
                elif value is not None:
                    seen[name] = value
        return "".join(text)

    def lean(self) -> list[Json]:
        return _lean(list(self.items.values()))


class OpenRouter(OpenAI):
    name: ClassVar[str] = "openrouter"
    endpoint: ClassVar[str | None] = None
    options_schema: ClassVar[Json | None] = {
        "type": "object", "additionalProperties": True,
        "properties": {"provider": {"type": "object", "description": "OpenRouter provider routing, "
                                    "e.g. {\"only\": [\"anthropic\"]}"}},
        "description": "every key is merged into the request body",
    }

    def __init__(self, **params: Any) -> None:
        if "provider" in params and not isinstance(params["provider"], dict):
            raise ValueError('option "provider" must be an object, e.g. {"only": ["anthropic"]}')
        super().__init__(include_usage=True, reasoning_effort=False)
        self.params = params

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = copy_body(up.body)
        claude = _is_claude(ctx.model)
        if not claude:
            strip_cache_control(body)
        reasoning = self._reasoning(body.pop("reasoning", None))
        body["messages"] = [self._round_trip(m, ctx) for m in body.get("messages") or ()]
        up = await super().request(Upstream(up.url, body, up.headers), ctx)
        extra: Json = {**self.params}
        if reasoning is not None:
            extra.setdefault("reasoning", reasoning)
        return up.with_body(**{k: v for k, v in extra.items() if k not in up.body or k == "reasoning"})

    def _reasoning(self, reasoning: Any) -> Json | None:
        if not isinstance(reasoning, dict) or reasoning.get("enabled") is False:
            return None
        if isinstance(reasoning.get("budget_tokens"), int):
            return {"max_tokens": reasoning["budget_tokens"]}
        effort = clamp_effort(reasoning.get("effort"), OPENAI_EFFORTS)
        if effort:
            return {"effort": effort}
        return {"enabled": True}

    def _round_trip(self, message: Json, ctx: Context) -> Json:
        role = message.get("role")
        if role == "tool":
            return {**message, "tool_call_id": unpack_tool_id(message.get("tool_call_id"))[0]}
        if role != "assistant":
            return message
        message = dict(message)
        thinking = message.pop("thinking", None)
        details: list[Json] | None = None
        calls = []
        for call in message.get("tool_calls") or ():
            base, packed = unpack_tool_id(call.get("id"))
            details = details or _unpack_details(packed)
            calls.append({**call, "id": base})
        if calls:
            message["tool_calls"] = calls
        if isinstance(thinking, dict):
            signature = thinking.get("signature")
            payload = dialect_payload(signature, "openrouter")
            if details is None and payload is not None:
                try:
                    details = _unpack_details(un_b64url(payload))
                except ValueError:
                    details = None
            if details is None and signature_field(signature, ctx.provider.name) and thinking.get("content"):
                message["reasoning"] = thinking["content"]
        if details:
            texts = [d for d in details if d.get("type") == "reasoning.text"]
            if texts and isinstance(thinking, dict) and thinking.get("content") and "text" not in texts[0]:
                texts[0]["text"] = thinking["content"]
            message["reasoning_details"] = details
        return message

    def message(self, message: Json, ctx: Context, names: dict[str, str]) -> Json:
        if not _is_claude(ctx.model) or not isinstance(message.get("content"), list):
            return super().message(message, ctx, names)
        parts = [strip_part(p, ("media_type",)) for p in message["content"]]
        out = super().message({k: v for k, v in message.items() if k != "content"}, ctx, names)
        out["content"] = parts
        return out

    async def response(self, body: Json, ctx: Context) -> Json:
        body = await super().response(body, ctx)
        for choice in body.get("choices") or ():
            message = choice.get("message") or {}
            collected = _Details()
            text = collected.add(message.pop("reasoning_details", None))
            text = text or message.pop("reasoning", None) or ""
            message.pop("reasoning", None)
            lean = collected.lean()
            if text or lean:
                message["thinking"] = {"content": text or "(no content)"}
                if lean:
                    message["thinking"]["signature"] = _signature(lean)
            calls = message.get("tool_calls") or []
            if calls and lean:
                calls[0]["id"] = pack_tool_id(str(calls[0].get("id") or ""), json.dumps(lean))
            if choice.get("finish_reason") == "error":
                body["error"] = body.get("error") or {"message": "the provider reported an error"}
        return body

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        details = _Details()
        thinking_open = signed = False
        held: dict[Any, Json] = {}
        async for chunk in super().stream(chunks, ctx):
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                text = details.add(delta.pop("reasoning_details", None))
                plain = delta.pop("reasoning", None)
                text = text or (plain if isinstance(plain, str) else "")
                thinking: Json = {}
                if text:
                    thinking["content"] = text
                    thinking_open = True
                for position, call in enumerate(delta.pop("tool_calls", None) or ()):
                    key = call.get("index", position)
                    slot = held.setdefault(key, {"index": key, "id": None, "type": "function",
                                                 "function": {"name": "", "arguments": ""}})
                    slot["id"] = slot["id"] or call.get("id")
                    function = call.get("function") or {}
                    slot["function"]["name"] = slot["function"]["name"] or function.get("name") or ""
                    slot["function"]["arguments"] += function.get("arguments") or ""
                if thinking_open and not signed and (delta.get("content") or held):
                    lean = details.lean()
                    if lean:
                        thinking["signature"] = _signature(lean)
                    signed = True
                if thinking:
                    delta["thinking"] = thinking
                if choice.get("finish_reason") == "error":
                    chunk["error"] = chunk.get("error") or {"message": "the provider reported an error"}
                if choice.get("finish_reason") and held:
                    delta["tool_calls"] = self._release(held, details)
                    held = {}
                choice["delta"] = delta
            yield chunk
        if held:  # a stream that ended without finish_reason still shows its calls
            yield {"choices": [{"index": 0, "delta": {"tool_calls": self._release(held, details)}}]}

    @staticmethod
    def _release(held: dict[Any, Json], details: _Details) -> list[Json]:
        calls = [held[k] for k in held]
        lean = details.lean()
        for call in calls:
            call["id"] = str(call["id"] or f"call_{call['index']}")
        if calls and lean:
            calls[0]["id"] = pack_tool_id(calls[0]["id"], json.dumps(lean))
        return calls
