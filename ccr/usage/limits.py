"""The routed model's limits, applied before a request is sent (a request adjuster).

Claude Code asks for `max_tokens: 128000` on every main-loop request; most OpenAI-compatible
models refuse anything above their output limit (8k-32k) with a 400. So, for the routed model:

- a request larger than its context window goes to `Router.longContext` when that is set
  (and has room), else is refused with a 400 naming the model, its window and the request's
  size, instead of the provider's opaque error;
- `max_tokens` (or `max_completion_tokens`) above its output limit, or above what the window
  leaves after the input, is lowered to it; an extended-thinking budget is kept below it. The
  request's record says so (`max_tokens_clamped`) and a log line names both figures.

A model whose chain has a `maxtoken` step keeps the limit the user set there. Token counts
are bounded first by the bytes of the text (cheap): the exact count runs only for requests
whose bound passes the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from ccr.errors import RequestError
from ccr.proxy.records import PreparedRequest
from ccr.proxy.router import Route
from ccr.proxy.runtime import Runtime

from .catalogue import Books, ModelInfo

__all__ = ["Limits", "ContextWindowExceeded"]

log = structlog.get_logger("ccr.usage")

_OUTPUT_KEYS = ("max_tokens", "max_completion_tokens")


class ContextWindowExceeded(RequestError):
    """A request larger than the routed model's context window, with no longContext route."""


class Limits:
    """`(PreparedRequest) -> None`: the adjuster; `runtime()` gives the config snapshot in use."""

    def __init__(self, books: Books, runtime: Callable[[], Runtime]) -> None:
        self._books, self._runtime = books, runtime

    def __call__(self, prepared: PreparedRequest) -> None:
        route = prepared.route
        if route is None:
            return
        runtime = self._runtime()
        book = self._books.of(runtime.config)
        info = book.info(route.provider.name, route.model)
        if info.context_window is None and info.max_output_tokens is None:
            return
        body = prepared.body
        key = next((k for k in _OUTPUT_KEYS if isinstance(body.get(k), int)), None)
        asked = body[key] if key else 0
        size = _input_tokens(runtime, prepared, info, asked)
        if size is not None and info.context_window is not None and size >= info.context_window:
            route, info = self._long_context(prepared, runtime, route, info, size)
            size = _input_tokens(runtime, prepared, info, asked)
        if key is None or "maxtoken" in runtime.chain(route.provider, route.model).names:
            return  # a `maxtoken` step is the user's own limit: it decides
        limit = _output_limit(info, size)
        if limit is None or asked <= limit:
            return
        body[key] = limit
        _thinking_below(body, limit)
        if prepared.record is not None:
            prepared.record.max_tokens_clamped = limit
        # the request's own log line says so (max_tokens_clamped); the details are for debugging
        log.debug("max_tokens lowered to the model's limit", request_id=prepared.request_id,
                  route=route.name, requested=asked, sent=limit, output_limit=info.max_output_tokens,
                  context_window=info.context_window, input_tokens=size, source=info.source)

    def _long_context(self, prepared: PreparedRequest, runtime: Runtime, route: Route,
                      info: ModelInfo, size: int) -> tuple[Route, ModelInfo]:
        target = runtime.config.router.long_context
        if target and route.reason != "longContext":
            provider, model = runtime.router.resolve(target, "Router.longContext")
            book = self._books.of(runtime.config)
            wide = book.info(provider.name, model)
            if wide.context_window is None or size < wide.context_window:
                prepared.route = Route(provider, model, "longContext")
                log.info("request larger than the model's context window: sent to longContext",
                         request_id=prepared.request_id, route=route.name, input_tokens=size,
                         context_window=info.context_window, to=prepared.route.name)
                return prepared.route, wide
        raise ContextWindowExceeded(
            f"{route.name}: the request has about {size} tokens, more than the model's context "
            f"window of {info.context_window} tokens ({info.source}). Start a new conversation or "
            "compact this one (/compact in Claude Code), or set Router.longContext to a model "
            "with a larger window.")


def _input_tokens(runtime: Runtime, prepared: PreparedRequest, info: ModelInfo, asked: int) -> int | None:
    """The request's exact input tokens when they may matter (near the window), else None.

    A token is at least one byte, so the body's size bounds its tokens for free; the texts'
    byte count is the next bound (a REWRITE_SYSTEM_PROMPT may have made the body larger)."""
    if info.context_window is None:
        return None
    room = info.context_window - min(asked, info.max_output_tokens or asked)
    if prepared.size is not None and prepared.size <= room and runtime.router.system_prompt is None:
        return None
    counter = runtime.router.counter
    if counter.at_most(prepared.body, room) <= room:
        return None  # input + output fit: no need to count
    return counter.request(prepared.body)


def _output_limit(info: ModelInfo, size: int | None) -> int | None:
    limits = [info.max_output_tokens] if info.max_output_tokens else []
    if size is not None and info.context_window is not None:
        limits.append(max(1, info.context_window - size))  # what the window leaves
    return min(limits) if limits else None


def _thinking_below(body: dict[str, Any], limit: int) -> None:
    thinking = body.get("thinking")
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    if isinstance(thinking, dict) and isinstance(budget, int) and budget >= limit:
        body["thinking"] = {**thinking, "budget_tokens": max(1, limit - 1)}
