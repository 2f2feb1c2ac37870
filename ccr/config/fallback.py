"""Fallback routes: where a request goes when its provider fails before answering.

Two ways to write them, which can be combined (list entries first, then the `fallback` ones):

    "Router":   {"default": ["prim,m1", "backup,m2"], "think": "prim,m1"}
    "fallback": {"default": ["backup,m2"], "think": ["backup,m2", "third,m3"]}

A Router value that is a list routes to its first entry; the rest, then `fallback[<rule>]`,
are tried in order (see ccr/proxy/pipeline.py for when). Every target is validated like a
route. A claude-code-router config without either form is read as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .load import Config

__all__ = ["RULES", "primary", "fallbacks", "check_fallback", "problems"]

#: Router key -> the rule name a Route's `reason` starts with
RULES = {"default": "default", "background": "background", "think": "think",
         "longContext": "longContext", "webSearch": "webSearch", "image": "image"}


def primary(value: Any) -> Any:
    """The route a Router value names first (the value itself unless it is a list)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _targets(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f'{where}: expected a list of "provider,model" routes, got {value!r}')
        return ()
    return tuple(v.strip() for v in value)


def fallbacks(config: Config, problems: list[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Fallback targets per rule name, from Router lists and the top-level `fallback` object."""
    data = config.data
    problems = problems if problems is not None else []
    out: dict[str, tuple[str, ...]] = {}
    router = data.get("Router")
    if isinstance(router, Mapping):
        for key in RULES:
            value = router.get(key)
            if isinstance(value, list):
                targets = _targets(value, f"Router.{key}", problems)
                if targets[1:]:
                    out[key] = targets[1:]
    table = data.get("fallback")
    if table is None:
        return out
    if not isinstance(table, Mapping):
        problems.append('fallback: expected an object like {"default": ["provider,model"]}')
        return out
    for key, value in table.items():
        if key not in RULES:
            problems.append(f"fallback.{key}: not a Router rule (one of {', '.join(RULES)})")
            continue
        out[key] = out.get(key, ()) + _targets(value, f"fallback.{key}", problems)
    return out


def check_fallback(config: Config, problems: list[str]) -> None:
    """Both forms are well made, and every target names a configured provider and model."""
    for key, targets in fallbacks(config, problems).items():
        for i, target in enumerate(targets):
            if problem := config.route_problem(f"fallback.{key}[{i}]", target):
                problems.append(problem)


def problems(config: Config) -> list[str]:
    """What `check_fallback` finds, as a list (for `parse()` to report with the rest)."""
    found: list[str] = []
    check_fallback(config, found)
    return found
