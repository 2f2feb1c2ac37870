"""Which Claude Code CLI is installed: `claude --version`, run once per binary and cached.

The binary is `CLAUDE_PATH` from the config, else the `CLAUDE_PATH` environment variable, else
`claude` on PATH. It runs asynchronously with a timeout; a missing binary, a failure or a
timeout all mean "not installed" (None).

    probe = ClaudeProbe()
    await probe.version(config)              # "2.1.330 (Claude Code)" or None
    await probe.version(config, wait=1.0)    # None as well if the probe takes longer
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ccr.config import Config

__all__ = ["ClaudeProbe", "CLAUDE_PROBE", "find_claude"]


def find_claude(config: Config) -> str | None:
    """The claude binary to ask, or None when there is none."""
    for candidate in (config.claude_path, os.environ.get("CLAUDE_PATH")):
        if candidate:
            path = Path(candidate).expanduser()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
            found = shutil.which(candidate)  # a bare command name
            return found
    return shutil.which("claude")


class ClaudeProbe:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._tasks: dict[str | None, asyncio.Task[str | None]] = {}

    def _key(self, config: Config) -> str | None:
        return find_claude(config)

    def start(self, config: Config) -> asyncio.Task[str | None]:
        binary = self._key(config)
        task = self._tasks.get(binary)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._run(binary), name="claude --version")
            self._tasks[binary] = task
        return task

    async def version(self, config: Config, wait: float | None = None) -> str | None:
        """The version string; waits for the probe (at most `wait` seconds if given)."""
        task = self.start(config)
        if wait is None:
            return await asyncio.shield(task)
        done, _ = await asyncio.wait({task}, timeout=wait)
        return task.result() if done else None

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, binary: str | None) -> str | None:
        if binary is None:
            return None
        try:
            proc = await asyncio.create_subprocess_exec(
                binary, "--version", stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        except OSError:
            return None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError:
            return None
        finally:
            if proc.returncode is None:  # timed out or cancelled: do not leave it running
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            return None
        lines = out.decode("utf-8", "replace").strip().splitlines()
        return lines[0].strip() if lines and lines[0].strip() else None


#: One probe per app; started at start-up so /health rarely has to wait.
CLAUDE_PROBE: web.AppKey[ClaudeProbe] = web.AppKey("claude_probe", ClaudeProbe)
