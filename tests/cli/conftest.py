"""Fixtures for driving the installed `ccr` command as a user would, in a temporary CCR_HOME.

    result = await ccr("start")                 # Result(code, out, err); asyncio, so fake
    assert result.code == 0, result             # upstreams in this loop keep serving
    write_config(home, Providers=[...])         # PORT defaults to a free port

Every test gets `ccr stop` at teardown and a check that no ccr process of its home is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ccr.service_record import alive, is_ccr
from tests.helpers import free_port

BIN = Path(sys.executable).parent / "ccr"


def ccr_argv(*args: str) -> list[str]:
    return [str(BIN), *args] if BIN.exists() else [sys.executable, "-m", "ccr", *args]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def write_config(home: Path, **top: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"PORT": free_port(), "LOG": False, "Providers": [], "Router": {}}
    raw.update(top)
    (home / "config.json").write_text(json.dumps(raw, indent=2))
    return raw


def provider(url: str, name: str = "fake", models: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "api_base_url": url, "api_key": "sk-upstream-secret",
            "models": models or ["gpt-test"]}


class Runner:
    def __init__(self, home: Path) -> None:
        self.home = home

    async def __call__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 90,
                       stdin: int | None = subprocess.DEVNULL) -> Result:
        proc = await asyncio.create_subprocess_exec(
            *ccr_argv(*args), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})})
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        return Result(proc.returncode or 0, out.decode(), err.decode())

    def sync(self, *args: str, env: dict[str, str] | None = None, timeout: float = 90,
             input: str | None = None) -> Result:
        done = subprocess.run(ccr_argv(*args), capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})}, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
        return Result(done.returncode, done.stdout, done.stderr)

    def pid(self) -> int | None:
        try:
            return int((self.home / ".claude-code-router.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None


def ccr_processes(home: Path) -> list[int]:
    """Live `ccr start` processes whose CCR_HOME is `home`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        homes = {f"CCR_HOME={home}".encode(), f"CCR_HOME={home.resolve()}".encode()}
        if homes & set(environ) and is_ccr(pid) and alive(pid):
            found.append(pid)
    return found


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    return _isolated_home


@pytest.fixture
def ccr(home: Path) -> Iterator[Runner]:
    runner = Runner(home)
    yield runner
    runner.sync("stop")
    left = ccr_processes(home)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"ccr processes left behind: {left}"
