"""Pick the provider and model for a request: claude-code-router's rules, in its order.

    1. custom router (CUSTOM_ROUTER_PATH) returning "provider,model"
    2. explicit "provider,model" in the request's `model`
    3. long context: token count over Router.longContextThreshold (or the session's last
       input was over it and this request is over 20k)
    4. <CCR-SUBAGENT-MODEL>provider,model</CCR-SUBAGENT-MODEL> in any system block or
       system message (removed before forwarding, whichever rule wins)
    5. a Claude Haiku model -> background
    6. a web_search tool -> webSearch
    7. thinking enabled with a budget -> think (current Claude Code sends
       {"type": "adaptive"} on every request; counting that would send everything to think)
    8. an image in the last user turn -> image (unless forceUseImageAgent: then the image
       agent lets the routed model ask the image model about each image)
    9. default

Rules 3 and 6-9 use the project or session Router override when one exists (see
`overrides.py`). The router never talks HTTP; token counting is injected.
"""

from __future__ import annotations

import inspect
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from ccr.config import Config, ProviderConfig, RouterConfig, split_route
from ccr.errors import NotFoundError, RequestError

from .tokens import TokenCounter

__all__ = ["Route", "Router", "CustomRoute", "session_id_of"]

log = structlog.get_logger("ccr.router")

_SUBAGENT = re.compile(r"<CCR-SUBAGENT-MODEL>(.*?)</CCR-SUBAGENT-MODEL>", re.S)
_GLOBAL_ONLY = frozenset({"background", "subagent"})  # rules that never read the override
_SESSION_IN_USER_ID = re.compile(r"_session_([0-9a-zA-Z-]+)")


@dataclass(frozen=True, slots=True)
class Route:
    provider: ProviderConfig
    model: str
    reason: str  # which rule decided: custom, explicit, longContext, subagent, background ...

    @property
    def name(self) -> str:
        return f"{self.provider.name},{self.model}"


class CustomRoute(Protocol):
    async def __call__(self, body: dict[str, Any], config: dict[str, Any]) -> str | None: ...


class OverrideSource(Protocol):
    def router_for(self, session_id: str | None) -> tuple[RouterConfig, str] | None: ...


def session_id_of(body: dict[str, Any], header: str | None = None) -> str | None:
    """Claude Code's session id: the X-Claude-Code-Session-Id header, else metadata.user_id."""
    if header:
        return header.strip() or None
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user_id, str):
        return None
    if user_id.startswith("{"):  # current Claude Code: a JSON string with session_id
        import json

        try:
            parsed = json.loads(user_id)
        except ValueError:
            return None
        value = parsed.get("session_id") if isinstance(parsed, dict) else None
        return value if isinstance(value, str) and value else None
    match = _SESSION_IN_USER_ID.search(user_id)
    return match.group(1) if match else None


class SessionUsage:
    """The last input token count per session (LRU), fed by finished responses."""

    def __init__(self, size: int = 1000) -> None:
        self._last: OrderedDict[str, int] = OrderedDict()
        self._size = size

    def record(self, session_id: str | None, input_tokens: int) -> None:
        if not session_id:
            return
        self._last[session_id] = input_tokens
        self._last.move_to_end(session_id)
        if len(self._last) > self._size:
            self._last.popitem(last=False)

    def last(self, session_id: str | None) -> int | None:
        return self._last.get(session_id) if session_id else None


class Router:
    def __init__(self, config: Config, counter: TokenCounter, *,
                 custom: CustomRoute | None = None,
                 overrides: OverrideSource | None = None,
                 usage: SessionUsage | None = None,
                 system_prompt: str | None = None) -> None:
        self.config = config
        self.counter = counter
        self.custom = custom
        self.overrides = overrides
        self.usage = usage or SessionUsage()
        self.system_prompt = system_prompt  # REWRITE_SYSTEM_PROMPT's text, read at start

    def resolve(self, value: str, where: str) -> tuple[ProviderConfig, str]:
        """`"provider,model"` → the provider and the model's canonical spelling."""
        provider_name, model = split_route(value)
        provider = self.config.provider(provider_name)
        if provider is None or not model:
            names = ", ".join(p.name for p in self.config.providers) or "none configured"
            raise NotFoundError(f"{where}: provider {provider_name!r} not found "
                                f"(configured providers: {names})")
        return provider, provider.find_model(model) or model

    async def route(self, body: dict[str, Any], session_id: str | None = None) -> Route:
        if self.config.setup_mode:
            name = self.config.path.name if self.config.path else "config.json"
            raise RequestError(
                f"ccr has no providers configured yet. Add one to the Providers list of {name} "
                'in the ccr home folder and set Router.default to "provider,model" '
                "(the file's comments show examples), then run `ccr restart`.")
        if self.system_prompt is not None:
            _rewrite_system_prompt(body, self.system_prompt)
        choice = await self._custom(body) if self.custom is not None else None
        # The tag is taken out whichever rule wins, so no provider ever sees it.
        tag = _take_subagent_tag(body)
        if choice:
            provider, chosen = self.resolve(choice, "custom router")
            return Route(provider, chosen, "custom")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise RequestError("model: Field required")
        if "," in model:
            provider, routed = self.resolve(model, "model")
            return Route(provider, routed, "explicit")

        rules, rules_source = self._rules(session_id)
        picked = await self._pick(body, model, rules, session_id, tag)
        if picked is None:
            raise RequestError("Missing model in request body: Router.default is not set")
        rule, value = picked
        provider, chosen = self.resolve(value, f"Router.{rule}")
        from_override = rules_source != "global" and rule not in _GLOBAL_ONLY
        if rule == "default" and not rules.default:
            from_override = False  # the override has no default: the global one was used
        reason = f"{rule} ({rules_source})" if from_override else rule
        return Route(provider, chosen, reason)

    def _rules(self, session_id: str | None) -> tuple[RouterConfig, str]:
        if self.overrides is not None:
            found = self.overrides.router_for(session_id)
            if found is not None:
                return found
        return self.config.router, "global"

    async def _pick(self, body: dict[str, Any], model: str, rules: RouterConfig,
              session_id: str | None, tag: str | None) -> tuple[str, str] | None:
        if rules.long_context:
            threshold = rules.long_context_threshold
            last = self.usage.last(session_id)
            # over the threshold, or the session's last input was and this one is over 20k
            need = min(threshold, 20000) if last is not None and last > threshold else threshold
            # counted off the loop, and only when the byte length (an upper bound) could pass it
            if await self.counter.exceeds(body, need):
                return "longContext", rules.long_context
        if tag:
            return "subagent", tag
        lowered = model.lower()
        if "claude" in lowered and "haiku" in lowered and self.config.router.background:
            return "background", self.config.router.background
        if rules.web_search and _has_web_search(body):
            return "webSearch", rules.web_search
        if rules.think and _thinking_enabled(body):
            return "think", rules.think
        if rules.image and not self.config.force_use_image_agent and _last_user_has_image(body):
            return "image", rules.image
        if rules.default:
            return "default", rules.default
        if self.config.router.default:  # an override without a default falls back to the global one
            return "default", self.config.router.default
        return None

    async def _custom(self, body: dict[str, Any]) -> str | None:
        assert self.custom is not None
        try:
            result: object = self.custom(body, dict(self.config.data))
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # a user's plugin: log and use the built-in rules
            log.warning("custom router failed; using the built-in rules",
                        error=f"{type(exc).__name__}: {exc}")
            return None
        if result is None or result == "":
            return None
        if not isinstance(result, str):
            log.warning("custom router returned a non-string; using the built-in rules",
                        returned=type(result).__name__)
            return None
        return result


def _rewrite_system_prompt(body: dict[str, Any], prompt: str) -> None:
    """REWRITE_SYSTEM_PROMPT: replace the main prompt up to its `<env>` section with the user's
    text (claude-code-router looks only at system[1]; current Claude Code has it at system[2],
    so the first block holding `<env>` is used)."""
    system = body.get("system")
    if not isinstance(system, list) or len(system) < 2:
        return
    for block in system[1:]:
        text = block.get("text") if isinstance(block, dict) else None
        if isinstance(text, str) and "<env>" in text:
            block["text"] = prompt + "<env>" + text.rsplit("<env>", 1)[1]
            return


def _take_subagent_tag(body: dict[str, Any]) -> str | None:
    """Find the tag in any system block (Claude Code moved agent prompts past system[1]) or
    `role: "system"` message, and remove every copy of it."""
    found: str | None = None

    def take(holder: dict[str, Any], key: str) -> None:
        nonlocal found
        text = holder.get(key)
        if isinstance(text, str) and "<CCR-SUBAGENT-MODEL>" in text:
            match = _SUBAGENT.search(text)
            if match:
                found = found or match.group(1).strip()
                holder[key] = _SUBAGENT.sub("", text)

    def blocks(value: Any) -> None:
        if isinstance(value, list):
            for block in value:
                if isinstance(block, dict) and block.get("type", "text") == "text":
                    take(block, "text")

    take(body, "system")
    blocks(body.get("system"))
    for message in body.get("messages") or ():
        if isinstance(message, dict) and message.get("role") == "system":
            take(message, "content")
            blocks(message.get("content"))
    return found


def _has_web_search(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and any(
        isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools)


def _thinking_enabled(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") == "enabled"


def _has_image(content: Any) -> bool:
    if not isinstance(content, list):
        return False
    for block in content:
        if isinstance(block, dict):
            if block.get("type") == "image":
                return True
            if block.get("type") == "tool_result" and _has_image(block.get("content")):
                return True
    return False


def _last_user_has_image(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _has_image(message.get("content"))
    return False
