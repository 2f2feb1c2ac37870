"""Security checks on a config, shared by start-up, `POST /api/config` and `POST /api/restart`.

    access = access_settings(data, host, apikey, problems)   # ADMIN_APIKEY, IDLE_TIMEOUT_MS, exposure
    problems += exposure_problems(bind_hosts, config)         # the address in use, on every apply
    problems += code_path_changes(new_raw, current_raw)       # the API never changes code paths
    message = without_env_values(message, raw)                # "$VAR" instead of its value

What they guard against:
- a config that leaves a non-loopback listening address without a key, or with a short one
  (the address *in use* counts, not only the file's HOST: `--host` wins over the file);
- header values a provider would be sent with CR or LF in them (header injection, and every
  request failing once the config is applied);
- config changes through the API that name code ccr would import or run (custom router,
  plugins, the Claude Code binary and its environment): those are set in the file only;
- error messages that would repeat the value of an environment variable the config names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .limits import bounded_whole

__all__ = [
    "Access",
    "LOOPBACK_HOSTS",
    "MIN_EXPOSED_KEY",
    "CODE_PATHS",
    "access_settings",
    "is_loopback",
    "exposure_problems",
    "header_problems",
    "code_path_changes",
    "without_env_values",
]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
MIN_EXPOSED_KEY = 16  # characters, for a key that guards a non-loopback address
DEFAULT_IDLE_TIMEOUT_MS = 30_000
_IDLE_RANGE = (500, 30_000)  # the bound is also the time a new connection has to send its head
_ENV_REF = re.compile(r"\$\{([^}]+)\}|\$([A-Z_][A-Z0-9_]*)")
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

#: What the API may not change: (label, how to read it from a raw config).
CODE_PATHS: tuple[str, ...] = ("CUSTOM_ROUTER_PATH", "transformers[].path", "CLAUDE_PATH", "ClaudeCode.env")


@dataclass(frozen=True, slots=True)
class Access:
    """Who may manage ccr and how long an idle connection may stay open."""

    admin_key: str | None = None        # ADMIN_APIKEY, else APIKEY; None: the local admin token only
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_MS


def access_settings(data: Mapping[str, Any], host: str, apikey: str | None, problems: list[str]) -> Access:
    """ADMIN_APIKEY and IDLE_TIMEOUT_MS read, the file's own HOST checked, header values checked."""
    admin = data.get("ADMIN_APIKEY")
    if admin is not None and not isinstance(admin, str):
        problems.append(f"ADMIN_APIKEY: expected a string, got {type(admin).__name__}")
        admin = None
    admin_key = (admin or "").strip() or apikey
    idle = _idle_timeout(data.get("IDLE_TIMEOUT_MS"), problems)
    problems.extend(exposure_problems((host,), apikey, admin_key))
    problems.extend(header_problems(data))
    return Access(admin_key=admin_key, idle_timeout_ms=idle)


def _idle_timeout(value: Any, problems: list[str]) -> int:
    low, high = _IDLE_RANGE
    return bounded_whole(value, "IDLE_TIMEOUT_MS", "milliseconds", DEFAULT_IDLE_TIMEOUT_MS, low, high, problems)


def is_loopback(host: str) -> bool:
    return host.strip().lower() in LOOPBACK_HOSTS


def exposure_problems(hosts: Iterable[str], apikey: str | None, admin_key: str | None) -> list[str]:
    """A non-loopback address needs an APIKEY (and an admin key) of MIN_EXPOSED_KEY characters."""
    exposed = sorted({h for h in hosts if not is_loopback(h)})
    if not exposed:
        return []
    where = ", ".join(repr(h) for h in exposed)
    if not apikey:
        return [(f"HOST: {where} would expose ccr to other machines without authentication; "
                 "set APIKEY, or use HOST 127.0.0.1")]
    problems = []
    for name, key in (("APIKEY", apikey), ("ADMIN_APIKEY", admin_key)):
        if key and len(key) < MIN_EXPOSED_KEY:
            problems.append(f"{name}: a key that guards a non-loopback address ({where}) must be at least "
                            f"{MIN_EXPOSED_KEY} characters long")
    return problems


def header_problems(data: Mapping[str, Any]) -> list[str]:
    """Provider header names must be tokens and values must not hold CR, LF or NUL."""
    providers = data.get("Providers", data.get("providers"))
    if not isinstance(providers, list):
        return []
    problems = []
    for i, item in enumerate(providers):
        headers = item.get("headers") if isinstance(item, dict) else None
        if not isinstance(headers, dict):
            continue
        for name, value in headers.items():
            if not _HEADER_NAME.match(str(name)):
                problems.append(f"Providers[{i}].headers: {str(name)[:40]!r} is not a valid header name")
            elif isinstance(value, str) and _BAD_HEADER_VALUE.search(value):
                problems.append(f"Providers[{i}].headers.{name}: the value contains a line break or NUL, "
                                "which no header may hold")
    return problems


def _code_paths(raw: Mapping[str, Any]) -> dict[str, Any]:
    plugins = raw.get("transformers")
    section = raw.get("ClaudeCode")
    return {
        "CUSTOM_ROUTER_PATH": _text(raw.get("CUSTOM_ROUTER_PATH")),
        "transformers[].path": ([_text(p.get("path")) if isinstance(p, dict) else p for p in plugins]
                                if isinstance(plugins, list) else plugins),
        "CLAUDE_PATH": _text(raw.get("CLAUDE_PATH")),
        "ClaudeCode.env": section.get("env") or None if isinstance(section, dict) else None,
    }


def _text(value: Any) -> Any:
    return (value.strip() or None) if isinstance(value, str) else value


def code_path_changes(new: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """One problem per code path `new` changes: the API refuses them (they run as ccr's user)."""
    before, after = _code_paths(current), _code_paths(new)
    return [f"{label}: names code that ccr runs; it can only be changed in the config file "
            "itself, not through the API" for label in CODE_PATHS if before[label] != after[label]]


def without_env_values(text: str, raw: Mapping[str, Any]) -> str:
    """`text` with the value of every environment variable `raw` refers to replaced by `$NAME`.

    Validation messages quote the value they refuse (`LOG_LEVEL: 'x' is not one of ...`); when
    that value came from the environment it may be a secret, so the message names the variable.
    """
    values = {name: os.environ.get(name, "") for name in _env_names(raw)}
    for name, value in sorted(values.items(), key=lambda item: -len(item[1])):  # longest first
        if not value:
            continue
        text = text.replace(repr(value), f"${name}")
        if len(value) >= 4:  # shorter ones would garble ordinary words and are no secret
            text = text.replace(value, f"${name}")
    return text


def _env_names(value: Any) -> set[str]:
    if isinstance(value, str):
        return {m.group(1) or m.group(2) for m in _ENV_REF.finditer(value)} if "$" in value else set()
    if isinstance(value, Mapping):
        return set().union(*(_env_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_env_names(v) for v in value)) if value else set()
    return set()
