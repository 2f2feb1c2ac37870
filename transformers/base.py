"""The transformer contract: one small class per provider dialect or request adjuster.

A transformer sees three things, each optional to override (the defaults pass data through):

    request(up, ctx)        -> Upstream        before the call: URL, headers, body
    response(body, ctx)     -> dict            a whole (non-streamed) reply
    stream(chunks, ctx)     -> async iterator  a streamed reply, one parsed event at a time

and a dialect one more, which runs before every other step of its chain:

    admit(body, ctx)        -> dict            the client's body without what the provider
                                               cannot take (so what adjusters add survives)

Between ccr and the transformers, requests and replies are in the *unified* shape: OpenAI chat
completions (`messages`, `tools`, `choices[].delta` ...) plus a few fields every dialect
understands (`reasoning` on the request, `thinking: {content, signature}` on messages and
deltas, `cache_control` on content parts). A *dialect* transformer (`dialect = True`: openai,
gemini, anthropic ...) translates that shape to its provider's wire format on the way out and
back on the way in; the other transformers adjust the unified shape (maxtoken, tooluse ...).
If a chain names no dialect, the `openai` dialect closes it.

Options come from the config (`["maxtoken", {"max_tokens": 8192}]`) as keyword arguments to
`__init__`, so a misspelt option fails when the config loads, not in the middle of a request.
Per-request state lives in locals of `stream` (an async generator) or in `ctx.state`, never on
the instance: one instance serves every request of a chain.

Example plugin (a `.py` file named in the config's `transformers` list):

    from ccr.transformers import Transformer, Upstream, Context

    class Shout(Transformer):
        name = "shout"

        def __init__(self, *, suffix: str = "!") -> None:
            self.suffix = suffix

        async def request(self, up: Upstream, ctx: Context) -> Upstream:
            return up.with_body(temperature=0.2)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import structlog

from .hub import Json

if TYPE_CHECKING:
    import aiohttp

    from ccr.config import ProviderConfig

__all__ = ["Json", "Log", "Upstream", "Context", "Transformer", "Chain"]


class Log(Protocol):
    """What a step may call on `ctx.log`: a structlog logger, keyword arguments as fields."""

    def bind(self, **fields: Any) -> Log: ...
    def debug(self, event: str, **fields: Any) -> Any: ...
    def info(self, event: str, **fields: Any) -> Any: ...
    def warning(self, event: str, **fields: Any) -> Any: ...
    def error(self, event: str, **fields: Any) -> Any: ...
    def exception(self, event: str, **fields: Any) -> Any: ...


_LOG: Log = structlog.get_logger("ccr.transformers")


@dataclass(frozen=True, slots=True)
class Upstream:
    """What ccr is about to send. Steps return a changed copy; they never mutate the original."""

    url: str
    body: Json
    headers: Mapping[str, str] = field(default_factory=dict)

    def with_body(self, **changes: Any) -> Upstream:
        """A copy with top-level body keys set (a value of None removes the key)."""
        body = dict(self.body)
        for key, value in changes.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        return Upstream(self.url, body, self.headers)

    def with_headers(self, **changes: str | None) -> Upstream:
        """A copy with headers set (None removes one). Underscores in names become dashes."""
        headers = dict(self.headers)
        for key, value in changes.items():
            name = key.replace("_", "-")
            for existing in [h for h in headers if h.lower() == name.lower()]:
                del headers[existing]
            if value is not None:
                headers[name] = value
        return Upstream(self.url, self.body, headers)


@dataclass(frozen=True, slots=True)
class Context:
    """What a step may know about the request it is serving."""

    provider: ProviderConfig
    model: str                 # the routed model name sent upstream
    request: Json              # the client's original Anthropic request (read only)
    api_key: str = ""          # the key chosen for this call ("" when the provider has none)
    stream: bool = False       # did the client ask for a stream
    log: Log = _LOG            # bound to the request id and route by the pipeline
    state: dict[str, Any] = field(default_factory=dict)  # per-request scratch shared by steps
    #: the app's pooled client session, for a step that must call out itself (Vertex tokens)
    http: aiohttp.ClientSession | None = None
    proxy: str | None = None   # PROXY_URL: every call a step makes goes through it too


class Transformer:
    """One step of a chain. Every hook passes data through unchanged."""

    name: ClassVar[str] = ""
    #: HTTP path this dialect serves, shown by GET /api/transformers (None for adjusters).
    endpoint: ClassVar[str | None] = None
    #: True for steps that translate the unified shape into a provider's wire format.
    dialect: ClassVar[bool] = False
    #: True for dialects whose provider speaks Anthropic Messages itself: the pipeline then keeps
    #: the client's Anthropic body end to end and does not translate (anthropic, vertex-claude).
    native: ClassVar[bool] = False
    #: JSON schema of the options, if the transformer declares one (shown by the API).
    options_schema: ClassVar[Json | None] = None

    def admit(self, body: Json, ctx: Context) -> Json:
        """Dialects: the client's body without what this provider cannot take. It runs first,
        before the adjusters, so what they add is never dropped; return a copy when changing."""
        return body

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        return up

    async def response(self, body: Json, ctx: Context) -> Json:
        return body

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        async for chunk in chunks:
            yield chunk

    def __repr__(self) -> str:
        return f"<transformer {self.name}>"


def _overrides(step: Transformer, hook: str) -> bool:
    return getattr(type(step), hook) is not getattr(Transformer, hook)


@dataclass(frozen=True, slots=True)
class Chain:
    """Steps in config order: provider `use` first, then the model's `use`, the dialect last.

    A request is first admitted by the dialect (what the client sent that the provider cannot
    take is dropped), then passes the steps left to right, the dialect's translation last.
    Replies (whole or streamed) pass them right to left, so the step nearest the wire on the
    way out is the first to see the reply (onion order). Steps that leave a hook alone cost
    nothing on that path: which steps override which hook is worked out once, when the chain
    is built, not per request.
    """

    steps: tuple[Transformer, ...]
    dialect: Transformer | None = field(init=False, repr=False, compare=False)
    native: bool = field(init=False, repr=False, compare=False)  # does the chain keep the Anthropic shape end to end?
    _admits: bool = field(init=False, repr=False, compare=False)
    _requests: tuple[Transformer, ...] = field(init=False, repr=False, compare=False)
    _responses: tuple[Transformer, ...] = field(init=False, repr=False, compare=False)  # right to left
    _streams: tuple[Transformer, ...] = field(init=False, repr=False, compare=False)    # right to left

    def __post_init__(self) -> None:
        dialect = next((step for step in self.steps if step.dialect), None)
        backwards = tuple(reversed(self.steps))
        for name, value in (
                ("dialect", dialect), ("native", dialect is not None and dialect.native),
                ("_admits", dialect is not None and _overrides(dialect, "admit")),
                ("_requests", tuple(s for s in self.steps if _overrides(s, "request"))),
                ("_responses", tuple(s for s in backwards if _overrides(s, "response"))),
                ("_streams", tuple(s for s in backwards if _overrides(s, "stream")))):
            object.__setattr__(self, name, value)  # frozen: set once, here

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)

    def touches(self, hook: str) -> bool:
        """Does any step override `hook` ("admit", "request", "response" or "stream")?"""
        return any(_overrides(step, hook) for step in self.steps)

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        if self._admits:
            assert self.dialect is not None
            body = self.dialect.admit(up.body, ctx)
            if body is not up.body:
                up = Upstream(up.url, body, up.headers)
        for step in self._requests:
            up = await step.request(up, ctx)
        return up

    async def response(self, body: Json, ctx: Context) -> Json:
        for step in self._responses:
            body = await step.response(body, ctx)
        return body

    def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        for step in self._streams:  # the last step wraps the raw upstream
            chunks = step.stream(chunks, ctx)
        return chunks
