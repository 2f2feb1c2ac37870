"""Project and session Router overrides, as claude-code-router reads them.

Claude Code keeps each session's transcript at `<claude config dir>/projects/<P>/<session>.jsonl`.
When such a file exists for the request's session, ccr looks for
`$CCR_HOME/<P>/<session>.json`, then `$CCR_HOME/<P>/config.json`; the first with a `Router`
object replaces the global Router rules for that session (all rules but `background`).
Results, found or not, are cached per session.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import structlog

from ccr.config.load import RouterConfig, _router  # noqa: PLC2701 (one parser for Router objects)

__all__ = ["ProjectOverrides"]

log = structlog.get_logger("ccr.router")


def claude_config_dir() -> Path:
    env = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(env).expanduser() if env else Path.home() / ".claude"


class ProjectOverrides:
    def __init__(self, home: Path, claude_dir: Path | None = None, size: int = 1000) -> None:
        self.home = home
        self.claude_dir = claude_dir or claude_config_dir()
        self._cache: OrderedDict[str, tuple[RouterConfig, str] | None] = OrderedDict()
        self._size = size

    def router_for(self, session_id: str | None) -> tuple[RouterConfig, str] | None:
        if not session_id or "/" in session_id or session_id.startswith("."):
            return None
        if session_id in self._cache:
            self._cache.move_to_end(session_id)
            return self._cache[session_id]
        found = self._find(session_id)
        self._cache[session_id] = found
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return found

    def _find(self, session_id: str) -> tuple[RouterConfig, str] | None:
        projects = self.claude_dir / "projects"
        try:
            folders = [p for p in projects.iterdir() if p.is_dir()]
        except OSError:
            return None
        for folder in folders:
            if not (folder / f"{session_id}.jsonl").exists():
                continue
            for name, label in ((f"{session_id}.json", "session"), ("config.json", "project")):
                candidate = self.home / folder.name / name
                try:
                    data = json.loads(candidate.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(data, dict) and isinstance(data.get("Router"), dict):
                    problems: list[str] = []
                    rules = _router(data["Router"], problems)
                    if problems:
                        log.warning("ignoring invalid Router override", file=str(candidate),
                                    problems=problems)
                        continue
                    return rules, label
            return None
        return None
