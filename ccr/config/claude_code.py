"""The `ClaudeCode` config section: how ccr runs the Claude Code CLI for the execution API.

    "ClaudeCode": {
      timeout: 60, max_retries: 3, rate_limit_per_minute: 100,
      max_concurrent: 2, max_queue: 100,
      allowed_roots: ["~/projects"], workspace: "~/projects/scratch",
      permission_mode: "acceptEdits", allowed_tools: ["Bash(git status:*)"],
    }

Each key falls back to the seed's environment variable (CLAUDE_DEFAULT_TIMEOUT,
CLAUDE_MAX_RETRIES, RATE_LIMIT_PER_MINUTE, ...) and then to a default; a key in the file wins
over the variable, so what the config shows is what runs. Problems name the key path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccr.config import Config
from ccr.errors import ConfigError

__all__ = ["ExecSettings", "SECTION", "PERMISSION_MODES", "settings_problems", "load_settings"]

SECTION = "ClaudeCode"
PERMISSION_MODES = ("acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan", "manual")


@dataclass(frozen=True, slots=True)
class ExecSettings:
    home: Path                                  # $CCR_HOME
    default_timeout: float = 60.0               # seconds per attempt when a request gives none
    max_timeout: float = 3600.0
    max_retries: int = 3                        # wrapper-side re-runs of retryable failures
    retry_backoff: float = 1.0                  # first wait; doubles per attempt
    retry_backoff_max: float = 30.0
    cli_max_retries: int = 2                    # CLAUDE_CODE_MAX_RETRIES inside the CLI
    api_timeout_ms: int = 600_000               # API_TIMEOUT_MS (capped by the run's timeout)
    rate_limit_per_minute: int = 100            # runs accepted per minute; 0 = no limit
    max_concurrent: int = 2                     # CLI processes at once
    max_queue: int = 100                        # runs waiting for a slot
    max_batch: int = 20                         # tasks per batch, steps per workflow
    kill_grace: float = 5.0                     # SIGTERM -> SIGKILL
    allowed_roots: tuple[Path, ...] = ()
    workspace: Path = Path()                    # default working directory
    permission_mode: str = "acceptEdits"
    allowed_tools: tuple[str, ...] = ()
    disallowed_tools: tuple[str, ...] = ()
    is_sandbox: bool = False                    # lets bypassPermissions run as root (IS_SANDBOX=1)
    base_url: str | None = None                 # None: this ccr, so its Router picks the model
    api_key: str | None = None                  # for a configured base_url
    on_restart: str = "fail"                    # running tasks at start: "fail" or "requeue"
    max_context_bytes: int = 10 * 1024 * 1024   # prompt + context_file
    lease_seconds: float = 60.0                 # shared database: a worker's hold on its task
    max_running_total: int = 0                  # shared database: running tasks across workers
    env: Mapping[str, str] = field(default_factory=dict)  # extra variables for the CLI

    @property
    def config_dir(self) -> Path:
        """The CLI's own HOME and CLAUDE_CONFIG_DIR, never the user's ~/.claude."""
        return self.home / "claude-home"

    @property
    def store_path(self) -> Path:
        return self.home / "tasks.sqlite3"

    @property
    def through_ccr(self) -> bool:
        return self.base_url is None


# key -> (environment variable, kind, default, low, high)
_NUMBERS: dict[str, tuple[str | None, type, float, float, float]] = {
    "timeout": ("CLAUDE_DEFAULT_TIMEOUT", float, 60.0, 1, 24 * 3600),
    "max_timeout": ("CLAUDE_MAX_TIMEOUT", float, 3600.0, 1, 7 * 24 * 3600),
    "max_retries": ("CLAUDE_MAX_RETRIES", int, 3, 0, 10),
    "retry_backoff": ("CLAUDE_RETRY_BACKOFF", float, 1.0, 0, 600),
    "retry_backoff_max": (None, float, 30.0, 0, 3600),
    "cli_max_retries": ("CLAUDE_CODE_MAX_RETRIES", int, 2, 0, 10),
    "api_timeout_ms": (None, int, -1, 1000, 24 * 3600 * 1000),
    "rate_limit_per_minute": ("RATE_LIMIT_PER_MINUTE", int, 100, 0, 1_000_000),
    "max_concurrent": ("CLAUDE_MAX_CONCURRENT", int, 2, 1, 64),
    "max_queue": ("CLAUDE_MAX_QUEUE", int, 100, 0, 100_000),
    "max_batch": (None, int, 20, 1, 1000),
    "kill_grace": (None, float, 5.0, 0.1, 300),
    "max_context_bytes": (None, int, 10 * 1024 * 1024, 1024, 1024 ** 3),
    # shared database only: a worker that has not renewed a task's lease for this long is
    # presumed dead, and its task is retried once or failed
    "lease_seconds": (None, float, 60.0, 2, 3600),
    # shared database only: running tasks across every worker (0: each worker's max_concurrent only)
    "max_running_total": (None, int, 0, 0, 100_000),
}
_ATTRS = {"timeout": "default_timeout"}


class _Section:
    def __init__(self, data: Mapping[str, Any], problems: list[str]) -> None:
        self.data, self.problems = data, problems

    def number(self, key: str) -> float | int:
        env, kind, default, low, high = _NUMBERS[key]
        value: Any = self.data.get(key)
        where = f"{SECTION}.{key}"
        if value is None and env and os.environ.get(env, "").strip():
            value, where = os.environ[env].strip(), f"environment variable {env}"
        if value is None:
            return default
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                self.problems.append(f"{where}: expected a number, got {value!r}")
                return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.append(f"{where}: expected a number, got {value!r}")
            return default
        if kind is int and int(value) != value:
            self.problems.append(f"{where}: expected a whole number, got {value!r}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{where}: {value} is out of range {low:g}..{high:g}")
            return default
        return int(value) if kind is int else float(value)

    def string(self, key: str, env: str | None = None) -> str | None:
        value = self.data.get(key)
        if value is None and env:
            value = os.environ.get(env) or None
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.problems.append(f"{SECTION}.{key}: expected a string, got {type(value).__name__}")
            return None
        return value.strip()

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problems.append(f"{SECTION}.{key}: expected a list of non-empty strings")
            return ()
        return tuple(v.strip() for v in value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"{SECTION}.{key}: expected true or false, got {value!r}")
            return default
        return value


def _path(value: str, home: Path) -> Path:
    """Absolute and with symlinks resolved, so containment checks compare real locations."""
    path = Path(value).expanduser()
    return Path(os.path.realpath(path if path.is_absolute() else home / path))


def _paths(values: tuple[str, ...], home: Path) -> tuple[Path, ...]:
    return tuple(_path(v, home) for v in values)


def _parse(config: Config, problems: list[str]) -> ExecSettings:
    raw = config.data.get(SECTION, {})
    if not isinstance(raw, dict):
        problems.append(f"{SECTION}: expected an object of settings, got {type(raw).__name__}")
        raw = {}
    section = _Section(raw, problems)
    numbers = {_ATTRS.get(k, k): section.number(k) for k in _NUMBERS}
    if numbers["api_timeout_ms"] == -1:
        numbers["api_timeout_ms"] = config.api_timeout_ms
    home = Path(os.path.realpath(config.home))
    roots = _paths(section.strings("allowed_roots"), home) or (home / "workspace",)
    workspace_value = section.string("workspace")
    workspace = _path(workspace_value, home) if workspace_value else roots[0]
    if not any(workspace == r or workspace.is_relative_to(r) for r in roots):
        problems.append(f"{SECTION}.workspace: {str(workspace)!r} is not inside any of allowed_roots")
    mode = section.string("permission_mode") or "acceptEdits"
    if mode not in PERMISSION_MODES:
        problems.append(f"{SECTION}.permission_mode: {mode!r} is not one of {', '.join(PERMISSION_MODES)}")
        mode = "acceptEdits"
    is_sandbox = section.boolean("is_sandbox", False)
    if mode == "bypassPermissions" and not is_sandbox:
        problems.append(f"{SECTION}.permission_mode: bypassPermissions lets the agent run any command; "
                        "it is only allowed with is_sandbox: true (the machine is a disposable sandbox)")
    base_url = section.string("base_url")
    if base_url and not base_url.startswith(("http://", "https://")):
        problems.append(f"{SECTION}.base_url: {base_url!r} must start with http:// or https://")
    on_restart = section.string("on_restart") or "fail"
    if on_restart not in ("fail", "requeue"):
        problems.append(f'{SECTION}.on_restart: expected "fail" or "requeue", got {on_restart!r}')
        on_restart = "fail"
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        problems.append(f"{SECTION}.env: expected an object of variable names to string values")
        env = {}
    unknown = sorted(set(raw) - set(_NUMBERS) - _OTHER_KEYS)
    for key in unknown:
        problems.append(f"{SECTION}.{key}: unknown setting (known: {', '.join(sorted(set(_NUMBERS) | _OTHER_KEYS))})")
    return ExecSettings(
        home=home,
        allowed_roots=roots,
        workspace=workspace,
        permission_mode=mode,
        allowed_tools=section.strings("allowed_tools"),
        disallowed_tools=section.strings("disallowed_tools"),
        is_sandbox=is_sandbox,
        base_url=base_url.rstrip("/") if base_url else None,
        api_key=section.string("api_key", "CLAUDE_API_KEY"),
        on_restart=on_restart,
        env=dict(env),
        **numbers,  # type: ignore[arg-type]
    )


_OTHER_KEYS = {"allowed_roots", "workspace", "permission_mode", "allowed_tools", "disallowed_tools",
               "is_sandbox", "base_url", "api_key", "on_restart", "env"}


def settings_problems(config: Config) -> list[str]:
    """Every problem in the ClaudeCode section; start-up and config saves report these."""
    problems: list[str] = []
    _parse(config, problems)
    return problems


def load_settings(config: Config) -> ExecSettings:
    problems: list[str] = []
    settings = _parse(config, problems)
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems), problems)
    return settings
