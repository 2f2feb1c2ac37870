"""The Anthropic dialect: for providers that speak the Anthropic Messages API themselves.

With `anthropic` as a provider's dialect, ccr does not translate: the client's request goes on
with only the model and the credentials changed (plus whatever adjusters in the chain change,
working on the Anthropic body), and the provider's reply comes back as it was sent. The
client's `anthropic-version`, `anthropic-beta` and `user-agent` headers are passed along.

Option `UseBearer` (as in claude-code-router): send the key only as `Authorization: Bearer`;
by default ccr sends it both as `x-api-key` and as a bearer token, which covers Anthropic and
the Anthropic-compatible endpoints of other vendors.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Context, Json, Transformer, Upstream
from .hub import drop_ccr_thinking

__all__ = ["Anthropic", "FORWARDED_HEADERS", "admit_anthropic"]

FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta", "user-agent", "x-app",
                     "x-claude-code-session-id")


def admit_anthropic(body: Json) -> Json:
    """Thinking that ccr made from another provider's reasoning carries a signature Anthropic
    rejects (400 "invalid signature"): those blocks stay behind; real signatures go on."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    kept = drop_ccr_thinking(messages)
    return body if kept is messages else {**body, "messages": kept}


class Anthropic(Transformer):
    name: ClassVar[str] = "anthropic"
    endpoint: ClassVar[str | None] = "/v1/messages"
    dialect: ClassVar[bool] = True
    #: the pipeline keeps the Anthropic shape end to end for chains with this dialect
    native: ClassVar[bool] = True
    options_schema: ClassVar[Json | None] = {
        "type": "object",
        "properties": {"UseBearer": {"type": "boolean", "default": False,
                                     "description": "send the key only as Authorization: Bearer"}},
    }

    def __init__(self, *, UseBearer: bool = False) -> None:  # noqa: N803 (claude-code-router's name)
        self.use_bearer = UseBearer

    def admit(self, body: Json, ctx: Context) -> Json:
        return admit_anthropic(body)

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        headers = dict(up.headers)
        headers.setdefault("anthropic-version", "2023-06-01")
        if ctx.api_key and not self.use_bearer:
            headers["x-api-key"] = ctx.api_key
        return Upstream(up.url, up.body, headers)
