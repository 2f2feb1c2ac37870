"""Everything a request needs from the config, built once: chains, router, key pools.

`build_runtime(config)` is the one validation step shared by start-up, `POST /api/config` and
`ccr model set`: it loads plugins and the custom router and builds every chain, collecting every
problem into one ConfigError. A reload swaps the whole snapshot; requests already running
keep the one they started with.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ccr.config import Config, ProviderConfig, parse
from ccr.config.claude_code import settings_problems
from ccr.config.fallback import fallbacks
from ccr.config.limits import DEFAULT_MAX_BODY_MB, max_body_bytes
from ccr.errors import ConfigError
from ccr.transformers import Chain, Registered, build_chain, builtin_registry
from ccr.transformers.plugins import load_module, load_plugins

from .health import Health
from .keypool import KeyPool
from .overrides import ProjectOverrides
from .router import CustomRoute, Router, SessionUsage
from .tokens import TokenCounter
from .upstream import call_timeout

__all__ = ["Runtime", "build_runtime", "validate_raw"]


@dataclass(frozen=True, slots=True)
class Runtime:
    config: Config
    router: Router
    registry: Mapping[str, Registered]
    chains: Mapping[tuple[str, str], Chain]      # (provider name, model); model "" = any other
    key_pools: Mapping[str, KeyPool] = field(default_factory=dict)
    #: fallback targets per Router rule (ccr/config/fallback.py)
    fallback: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: which providers are in cool-down (circuit breaker, Retry-After); starts afresh on reload
    health: Health = field(default_factory=Health)
    #: MAX_BODY_MB in bytes, read once per config (every request checks it)
    max_body_bytes: int = DEFAULT_MAX_BODY_MB * 1024 * 1024
    #: every provider call's timeouts (API_TIMEOUT_MS), made once per config
    timeout: aiohttp.ClientTimeout = field(default_factory=aiohttp.ClientTimeout)

    def chain(self, provider: ProviderConfig, model: str) -> Chain:
        return self.chains.get((provider.name, model)) or self.chains[(provider.name, "")]

    def keys(self, provider: ProviderConfig) -> KeyPool:
        return self.key_pools[provider.name]


def _custom_router(config: Config) -> CustomRoute | None:
    if not config.custom_router_path:
        return None
    label = "CUSTOM_ROUTER_PATH"
    if config.custom_router_path.endswith((".js", ".cjs", ".mjs", ".ts")):
        raise ConfigError(f"{label}: {config.custom_router_path!r} is JavaScript; ccr loads Python "
                          "routers: port it to a .py file defining `async def route(body, config)` "
                          "(see the README, 'Custom router')")
    module = load_module(config.custom_router_path, label)
    route = getattr(module, "route", None)
    if not callable(route):
        raise ConfigError(f"{label}: {config.custom_router_path!r} defines no function `route(body, config)`")
    params = inspect.signature(route).parameters
    if len(params) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in params.values()):
        raise ConfigError(f"{label}: `route` must accept (body, config)")
    return route  # type: ignore[no-any-return]


def build_runtime(config: Config, *, counter: TokenCounter | None = None,
                  usage: SessionUsage | None = None, reuse_code_of: Runtime | None = None) -> Runtime:
    """With `reuse_code_of`, import nothing: its plugins and custom router stand in (the API
    validates this way; code paths change in the file only, see ccr.config.guards)."""
    problems: list[str] = []
    registry = builtin_registry() if reuse_code_of is None else dict(reuse_code_of.registry)
    try:
        if reuse_code_of is None:
            registry = load_plugins(config.plugins, registry)
    except ConfigError as exc:
        problems.extend(exc.problems)
    chains: dict[tuple[str, str], Chain] = {}
    for provider in config.providers:
        for model in ("", *provider.model_use):
            specs = provider.use + (provider.model_use.get(model, ()) if model else ())
            try:
                chains[(provider.name, model)] = build_chain(specs, registry)
            except ValueError as exc:
                problems.append(str(exc))
    problems.extend(settings_problems(config))  # the ClaudeCode section (execution API)
    custom = None if reuse_code_of is None else reuse_code_of.router.custom
    try:
        if reuse_code_of is None:
            custom = _custom_router(config)
    except ConfigError as exc:
        problems.extend(exc.problems)
    system_prompt = None
    if config.rewrite_system_prompt:
        try:
            system_prompt = Path(config.rewrite_system_prompt).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"REWRITE_SYSTEM_PROMPT: cannot read {config.rewrite_system_prompt!r}: "
                            f"{exc.strerror or exc}; give the path of a text file")
    if problems:
        where = f"{config.path}: " if config.path else ""
        raise ConfigError(f"{where}invalid config:\n  - " + "\n  - ".join(problems), problems)
    router = Router(config, counter or TokenCounter(), custom=custom,
                    overrides=ProjectOverrides(config.home), usage=usage, system_prompt=system_prompt)
    pools = {p.name: KeyPool(p.api_keys) for p in config.providers}
    return Runtime(config=config, router=router, registry=registry, chains=chains, key_pools=pools,
                   max_body_bytes=max_body_bytes(config.data), timeout=call_timeout(config),
                   fallback=fallbacks(config))


def validate_raw(raw: Mapping[str, Any], *, path: Path | None = None, home: Path | None = None,
                 counter: TokenCounter | None = None, usage: SessionUsage | None = None,
                 reuse_code_of: Runtime | None = None) -> Runtime:
    """Parse and build in one step; raises ConfigError listing every problem found, those of
    the file's keys and those of its transformer chains and custom router together."""
    problems: list[str] = []
    config = parse(raw, path=path, home=home, problems=problems)
    runtime = None
    try:
        runtime = build_runtime(config, counter=counter, usage=usage, reuse_code_of=reuse_code_of)
    except ConfigError as exc:
        problems.extend(p for p in exc.problems if p not in problems)
    if problems or runtime is None:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}invalid config:\n  - " + "\n  - ".join(problems), problems)
    return runtime
