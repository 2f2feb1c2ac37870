"""`claude --version`: offline, about 0.15 s, writes nothing; for health and version reports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

__all__ = ["claude_version"]


async def claude_version(claude: str, timeout: float = 10.0) -> str | None:
    """The version line, e.g. "2.1.330 (Claude Code)"; None when the CLI cannot be run."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    try:
        proc = await asyncio.create_subprocess_exec(
            claude, "--version", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=env, start_new_session=True)
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return None
    text = out.decode("utf-8", "replace").strip()
    return text if proc.returncode == 0 and text else None
