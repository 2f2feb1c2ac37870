"""Run one CLI process: its own session, output streamed line by line, bounded in time.

The CLI starts with `start_new_session=True`, so it leads a process group. On timeout or
cancel the group gets SIGTERM (the CLI then exits 143 and stops its tool's subprocess, which
lives in a session of its own), then SIGKILL after a grace period; descendants found under
/proc get the same treatment, so nothing it started outlives it. SIGINT is never used: the CLI
exits 0 with no output on SIGINT, which would look like success.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .command import Invocation

__all__ = ["ProcessOutcome", "run_process", "descendants"]

_CHUNK = 64 * 1024
_STDERR_KEEP = 64 * 1024


@dataclass(slots=True)
class ProcessOutcome:
    return_code: int | None = None
    lines: list[str] = field(default_factory=list)   # stdout, one entry per line
    stderr: str = ""
    timed_out: bool = False
    cancelled: bool = False
    pid: int | None = None


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pids: list[int], pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


async def _stop(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the group and everything below the CLI, SIGKILL whatever is left after `grace`."""
    pgid = proc.pid
    below = descendants(proc.pid)
    _signal(below, pgid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
    _signal(below + descendants(proc.pid), pgid, signal.SIGKILL)
    await proc.wait()


async def _pump(proc: asyncio.subprocess.Process, outcome: ProcessOutcome,
                on_line: Callable[[str], None] | None) -> None:
    assert proc.stdout is not None and proc.stderr is not None

    async def stderr() -> None:
        buffer = bytearray()
        while chunk := await proc.stderr.read(_CHUNK):  # type: ignore[union-attr]
            buffer += chunk
            del buffer[:-_STDERR_KEEP]
        outcome.stderr = buffer.decode("utf-8", "replace")

    err_task = asyncio.create_task(stderr())
    pending = b""
    try:
        while chunk := await proc.stdout.read(_CHUNK):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line = raw.decode("utf-8", "replace")
                outcome.lines.append(line)
                if on_line is not None and line.strip():
                    on_line(line)
        if pending:
            line = pending.decode("utf-8", "replace")
            outcome.lines.append(line)
            if on_line is not None and line.strip():
                on_line(line)
        await err_task
    finally:
        err_task.cancel()
    outcome.return_code = await proc.wait()


# The CLI dies with this process even when it is killed -9 (a worker that crashes must not leave
# an orphan agent running a task another worker retries): util-linux's setpriv sets the Linux
# parent-death signal, then execs the CLI (same pid, same process group).
_SETPRIV = shutil.which("setpriv") if sys.platform == "linux" else None
_DIE_WITH_US: tuple[str, ...] = (_SETPRIV, "--pdeathsig", "KILL", "--") if _SETPRIV else ()


async def run_process(inv: Invocation, *, timeout: float, grace: float, cancel: asyncio.Event,
                      on_start: Callable[[int], None] | None = None,
                      on_line: Callable[[str], None] | None = None) -> ProcessOutcome:
    inv.cwd.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        *_DIE_WITH_US, *inv.argv, cwd=str(inv.cwd), env=inv.env, start_new_session=True,
        stdin=asyncio.subprocess.PIPE if inv.stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=_CHUNK)
    outcome = ProcessOutcome(pid=proc.pid)
    if on_start is not None:
        on_start(proc.pid)
    feeder = asyncio.create_task(_feed(proc, inv.stdin))
    reader = asyncio.create_task(_pump(proc, outcome, on_line))
    stopper = asyncio.create_task(cancel.wait())
    try:
        done, _ = await asyncio.wait({reader, stopper}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if reader not in done:
            outcome.cancelled = stopper in done
            outcome.timed_out = not outcome.cancelled
            await _stop(proc, grace)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), grace)
        else:
            reader.result()
    finally:
        stopper.cancel()
        feeder.cancel()
        if proc.returncode is None:  # our caller was cancelled: never leave the CLI behind
            await asyncio.shield(_stop(proc, grace))
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    outcome.return_code = proc.returncode
    return outcome


async def _feed(proc: asyncio.subprocess.Process, data: bytes | None) -> None:
    if data is None or proc.stdin is None:
        return
    try:
        proc.stdin.write(data)
        await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        proc.stdin.close()
