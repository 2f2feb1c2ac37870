"""kill -9 at the worst moment: during config writes (the file is the old one or the new one,
never a mix), and while tasks run (after a restart every task is accounted for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers import free_port

from .conftest import APIKEY, UPSTREAM_KEY

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

_WRITER = r"""
import sys
from pathlib import Path
from ccr.config.store import ConfigStore

store = ConfigStore(Path(sys.argv[1]), keep=2)
print("ready", flush=True)
n = int(sys.argv[2])
while True:
    n += 1
    # each version is large enough that a write takes several system calls
    store.save({"Providers": [], "Router": {}, "version": n, "padding": "x" * (64 * 1024 + n)})
"""


def _version(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["padding"] == "x" * (64 * 1024 + data["version"])  # whole, not a mix of two
    return int(data["version"])


def test_kill9_during_config_writes_leaves_the_old_file_or_the_new(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"Providers": [], "Router": {}, "version": 0, "padding": "x" * 65536}),
                    encoding="utf-8")
    rng = random.Random(9)
    last = 0
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(last)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
        version = _version(path)
        assert version >= last  # never older than what was there
        last = version
        for backup in tmp_path.glob("config.json.*.bak"):
            _version(backup)  # backups are whole files too
    assert last > 0  # writes did happen between kills


def _sleeper(tmp_path: Path) -> Path:
    """A stand-in CLI that records its pid and sleeps (the process a kill -9 of ccr orphans)."""
    script = tmp_path / "claude"
    pids = tmp_path / "pids"
    pids.mkdir()
    script.write_text(f"#!{sys.executable}\nimport os, time\n"
                      f"open(os.path.join({str(pids)!r}, str(os.getpid())), 'w').close()\ntime.sleep(120)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def _start(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CCR_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "ccr", "start", "--foreground"], env=env,  # noqa: ASYNC220 (not waited on)
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(f"http://127.0.0.1:{port}/") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            assert proc.poll() is None, "ccr exited during start"
            await asyncio.sleep(0.1)
    raise AssertionError("ccr did not start")


async def _tasks(session: aiohttp.ClientSession, base: str) -> dict[str, dict[str, Any]]:
    async with session.get(f"{base}/api/tasks?limit=100", headers={"x-api-key": APIKEY}) as resp:
        assert resp.status == 200
        body = await resp.json()
    return {t["task_id"] if "task_id" in t else t["id"]: t for t in body["tasks"]}


async def test_kill9_with_tasks_running_every_task_is_accounted_for(tmp_path: Path, _isolated_home: Path) -> None:
    home, port = _isolated_home, free_port()
    script = _sleeper(tmp_path)
    (home / "config.json").write_text(json.dumps({
        "APIKEY": APIKEY, "PORT": port, "CLAUDE_PATH": str(script),
        "ClaudeCode": {"max_concurrent": 2, "timeout": 600, "max_timeout": 600},
        "Providers": [{"name": "fake", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                       "api_key": UPSTREAM_KEY, "models": ["gpt-test"]}],
        "Router": {"default": "fake,gpt-test"}}), encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    proc = await _start(home, port)
    try:
        async with aiohttp.ClientSession() as session:
            ids = []
            for i in range(5):
                async with session.post(f"{base}/api/claude-code/async", headers={"x-api-key": APIKEY},
                                        json={"prompt": f"task {i}", "options": {"max_retries": 0}}) as resp:
                    assert resp.status == 202, await resp.text()
                    ids.append((await resp.json())["task_id"])
            for _ in range(300):  # two run (max_concurrent), three wait
                if len(list((tmp_path / "pids").iterdir())) == 2:
                    break
                await asyncio.sleep(0.1)
            before = await _tasks(session, base)
            assert sorted(t["status"] for t in before.values()) == ["pending"] * 3 + ["running"] * 2
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            proc = await _start(home, port)
            after = await _tasks(session, base)
            assert sorted(after) == sorted(ids)  # every task is still there
            for task_id, task in before.items():
                now = after[task_id]
                if task["status"] == "running":  # its process belonged to the dead ccr
                    assert now["status"] == "failed", now
                else:  # never started: failed as interrupted, or queued again
                    assert now["status"] in ("failed", "pending", "running"), now
            for task_id in ids:  # nothing stays in flight for ever: cancel what was requeued
                async with session.delete(f"{base}/api/claude-code/task/{task_id}",
                                          headers={"x-api-key": APIKEY}) as resp:
                    assert resp.status in (200, 202, 404, 409), await resp.text()
            for _ in range(300):
                statuses = {t["status"] for t in (await _tasks(session, base)).values()}
                if statuses <= {"failed", "cancelled", "completed"}:
                    break
                await asyncio.sleep(0.1)
            assert statuses <= {"failed", "cancelled", "completed"}, statuses
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for pid_file in (tmp_path / "pids").iterdir():  # the orphans of the killed ccr
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.name), signal.SIGKILL)
