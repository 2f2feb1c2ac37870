"""What a newcomer is told: after the first start, by `ccr status`, and before a restart.

The service writes a default config and runs in setup mode when there is no provider; its own
notes go to daemon.log, which nobody reads on a first start, so the CLI says it here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ccr.config import read_raw
from ccr.errors import ConfigError

__all__ = ["after_start", "check", "next_step"]


def _providers(path: Path) -> list[Any]:
    try:
        raw = read_raw(path)
    except ConfigError:
        return []
    found = raw.get("Providers", raw.get("providers", []))
    return found if isinstance(found, list) else []


def after_start(path: Path, url: str, *, wrote_config: bool) -> list[str]:
    """The lines `ccr start` adds after "ccr is running at …"."""
    lines = [f"wrote a default config to {path} (commented; edit it or use the web UI)"] if wrote_config else []
    if not _providers(path):
        lines += ["setup mode: no provider is configured yet, so requests are answered with how to add one.",
                  "next steps:",
                  f"  1. add a provider and a default route: open {url}/ui/ (or `ccr ui`), or edit {path}",
                  "  2. run Claude Code through ccr: `ccr code` (or `eval \"$(ccr activate)\"`, then `claude`)",
                  "  3. check it: `ccr status`"]
    return lines


def next_step(providers: Sequence[Mapping[str, Any]], url: str | None, config: str) -> list[str]:
    """One hint for `ccr status` on a running service."""
    where = f"{url}/ui/ (or `ccr ui`)" if url else "the web UI (`ccr ui`)"
    if not providers:
        return [f"next: add a provider and a default route in {where} or in {config}"]
    return ["next: `ccr code` runs Claude Code through ccr"]


def check(path: Path) -> list[str]:
    """Every problem a start from `path` would report, or [] (a missing file gets the default)."""
    if not path.exists():
        return []
    from ccr.proxy.runtime import validate_raw  # imports every transformer: only when needed

    try:
        validate_raw(read_raw(path), path=path)
    except ConfigError as exc:
        return list(exc.problems) or [exc.message]
    return []
