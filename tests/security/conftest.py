"""Fixtures for the security tests: ccr from a real config file (in-process, and as the real
`ccr start --foreground` process), plus a raw HTTP client for what the SDKs will not send."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.admin.conftest import admin_server  # noqa: F401  (re-exported fixture)
from tests.helpers import free_port

LONG_KEY = "client-key-0123456789abcdef"


def base_config(**top: Any) -> dict[str, Any]:
    provider = {"name": "p", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                "api_key": "sk-upstream", "models": ["m"]}
    return {"Providers": [provider], "Router": {"default": "p,m"}, "LOG": False, **top}


@dataclass
class Process:
    """A `ccr start --foreground` child and a session to talk to it over loopback."""

    proc: asyncio.subprocess.Process
    url: str
    path: Path
    session: aiohttp.ClientSession
    out: str = ""

    async def call(self, method: str, path: str, *, key: str | None = None, json_body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        sent = dict(headers or {})
        if key:
            sent["x-api-key"] = key
        async with self.session.request(method, self.url + path, json=json_body, headers=sent) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text), dict(resp.headers)
            except ValueError:
                return resp.status, text, dict(resp.headers)


async def _listening(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None and proc.stderr is not None
    lines = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line:
            raise AssertionError(f"ccr exited: {''.join(lines)} {(await proc.stderr.read()).decode()}")
        lines.append(line)
        if "listening on" in line:
            return "".join(lines)


@pytest.fixture
async def ccr_process() -> AsyncIterator[Any]:
    """`await ccr_process(raw, "--host", "0.0.0.0")`: the real server, from $CCR_HOME/config.json."""
    started: list[Process] = []

    async def start(raw: dict[str, Any], *args: str) -> Process:
        path = Path(os.environ["CCR_HOME"]) / "config.json"
        path.write_text(json.dumps(raw, indent=2))
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ccr", "start", "--foreground", "--config", str(path),
            "--port", str(port), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        running = Process(proc, f"http://127.0.0.1:{port}", path, aiohttp.ClientSession())
        started.append(running)
        running.out = await _listening(proc)
        return running

    yield start
    for running in started:
        await running.session.close()
        if running.proc.returncode is None:
            running.proc.terminate()
            try:
                await asyncio.wait_for(running.proc.wait(), 30)
            except TimeoutError:
                running.proc.kill()
                await running.proc.wait()
