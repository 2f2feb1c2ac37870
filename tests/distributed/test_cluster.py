"""Two router nodes and two `ccr worker`s on one PostgreSQL: tasks, cancels and crashes across them.

Every process is real (its own CCR_HOME, as on its own host), and so are the Claude Code CLI,
the database and the model (a scripted fake in its own process).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.execution.conftest import claude_bin

from .cluster import APIKEY, ROOT, Cluster, Proc, model_state, release_model

pytestmark = pytest.mark.timeout(300)
HEADERS = {"x-api-key": APIKEY}


def _create_database(server_url: str) -> str:
    async def create() -> str:
        admin = await asyncpg.connect(server_url)
        name = f"c{os.urandom(6).hex()}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        return server_url.rsplit("/", 1)[0] + "/" + name
    return asyncio.run(create())


def _ccr(home: Path, *args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CCR_HOME": str(home), "HOME": str(home), "CCR_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "ccr", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def cluster(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = _create_database(postgres_server)
    root = tmp_path_factory.mktemp("cluster")
    upgraded = _ccr(root / "admin", "db", "upgrade", url=url)
    assert upgraded.returncode == 0, upgraded.stderr
    c = Cluster(root, url, claude_bin())
    try:
        c.start_model()
        a, b = c.node("node-a"), c.node("node-b")
        w1, w2 = c.worker("worker-1", a), c.worker("worker-2", b)
        yield {"cluster": c, "a": a, "b": b, "workers": [w1, w2], "url": url}
    finally:
        c.stop_all()


async def _submit(http: aiohttp.ClientSession, node: Proc, prompt: str) -> str:
    async with http.post(f"{node.url}/api/claude-code/async", json={"prompt": prompt}) as response:
        assert response.status == 202, await response.text()
        return str((await response.json())["task_id"])


async def _view(http: aiohttp.ClientSession, node: Proc, task_id: str) -> dict[str, Any]:
    async with http.get(f"{node.url}/api/claude-code/task/{task_id}") as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"not within {timeout} s: {what}")


async def _task_row(url: str, task_id: str) -> asyncpg.Record:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchrow("SELECT status, worker, requeues FROM ccr_tasks WHERE id = $1", task_id)
    finally:
        await conn.close()


async def test_twenty_tasks_submitted_to_one_node_are_read_from_the_other(cluster: dict[str, Any]) -> None:
    a, b = cluster["a"], cluster["b"]
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        ids = [await _submit(http, a, f"Answer MARK-n{i}") for i in range(20)]

        async def all_done() -> list[dict[str, Any]] | None:
            views = [await _view(http, b, task_id) for task_id in ids]
            return views if all(v["status"] in ("completed", "failed", "cancelled") for v in views) else None
        views = await _until(all_done, 240, "20 tasks finished")
    assert [v["status"] for v in views] == ["completed"] * 20, [v["result"] for v in views]
    assert [v["result"]["output"] for v in views] == [f"OUT-n{i}" for i in range(20)]
    workers = {(await _task_row(cluster["url"], task_id))["worker"] for task_id in ids}
    assert len(workers) == 2  # both hosts took tasks from the queue


async def test_live_output_is_read_from_a_node_that_does_not_run_the_task(cluster: dict[str, Any]) -> None:
    c, a, b = cluster["cluster"], cluster["a"], cluster["b"]
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        task_id = await _submit(http, a, "@@HANG@@ MARK-live")
        kinds: list[str] = []
        async with http.get(f"{b.url}/api/claude-code/task/{task_id}/events") as response:
            assert response.status == 200
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    kind = next((line[7:].decode() for line in raw.split(b"\n") if line.startswith(b"event: ")), "")
                    kinds.append(kind)
                    if kind == "start":  # the worker on another host started the CLI
                        await _until(lambda: asyncio.to_thread(lambda: model_state(c)["hung"] > 0), 60, "hung")
                        release_model(c)
                    if kind == "done":
                        data = json.loads(raw.split(b"data: ", 1)[1])
                        assert data["status"] == "completed" and data["result"]["output"] == "OUT-live"
    assert kinds[0] == "status" and "start" in kinds and "output" in kinds and kinds[-1] == "done"


async def test_a_task_run_by_a_worker_gets_its_temperature_on_every_request(cluster: dict[str, Any]) -> None:
    """The worker's CLI reaches a router node that does not run the task: the temperature
    travels in the task's header, so that node applies it."""
    c, a = cluster["cluster"], cluster["a"]
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        async with http.post(f"{a.url}/api/claude-code/async",
                             json={"prompt": "MARK-warm", "options": {"temperature": 0.25}}) as response:
            assert response.status == 202, await response.text()
            task_id = (await response.json())["task_id"]

        async def done() -> bool:
            return (await _view(http, a, task_id))["status"] in ("completed", "failed")
        await _until(done, 120, "the task to finish")
        view = await _view(http, a, task_id)
    assert view["status"] == "completed", view
    sent = model_state(c)["temperatures"].get("warm")
    assert sent and all(t == 0.25 for t in sent), sent


async def test_a_cancel_sent_to_any_node_reaches_the_worker(cluster: dict[str, Any]) -> None:
    c, a, b = cluster["cluster"], cluster["a"], cluster["b"]
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        task_id = await _submit(http, a, "@@HANG@@ MARK-cancel")
        await _until(lambda: asyncio.to_thread(lambda: model_state(c)["hung"] > 0), 60, "the CLI's model call")
        started = time.monotonic()
        async with http.delete(f"{b.url}/api/claude-code/task/{task_id}") as response:
            assert response.status == 200, await response.text()

        async def cancelled() -> bool:
            return (await _view(http, a, task_id))["status"] == "cancelled"
        await _until(cancelled, 20, "the task cancelled")
        assert time.monotonic() - started < 20
        # the worker killed the CLI, which closed its model call
        await _until(lambda: asyncio.to_thread(lambda: model_state(c)["hung"] == 0), 20, "the CLI gone")


async def test_a_worker_killed_mid_task_is_noticed_and_its_task_retried(cluster: dict[str, Any]) -> None:
    c, a = cluster["cluster"], cluster["a"]
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        task_id = await _submit(http, a, "@@HANG@@ MARK-crash")
        await _until(lambda: asyncio.to_thread(lambda: model_state(c)["hung"] > 0), 60, "the task running")
        row = await _task_row(cluster["url"], task_id)
        seen_before = (await asyncio.to_thread(model_state, c))["seen"]
        victim = next(w for w in cluster["workers"] if row["worker"].endswith(f":{w.popen.pid}"))
        c.kill(victim)  # kill -9: no goodbye, the lease (3 s here) runs out
        cluster["workers"].remove(victim)
        cluster["workers"].append(c.worker(f"{victim.name}-again", a))

        async def requeued() -> bool:
            row = await _task_row(cluster["url"], task_id)
            return bool(row["requeues"] == 1 and row["worker"] != victim_worker)
        victim_worker = row["worker"]
        await _until(requeued, 90, "the lost task requeued")
        # the killed worker's CLI died with it (no orphan): only the retry's model call hangs
        await _until(lambda: asyncio.to_thread(lambda: model_state(c)["hung"] == 1 and
                                               model_state(c)["seen"] > seen_before), 90, "the retry running")
        release_model(c)

        async def finished() -> dict[str, Any] | None:
            view = await _view(http, a, task_id)
            return view if view["status"] not in ("pending", "running") else None
        view = await _until(finished, 120, "the retried task finished")
    assert view["status"] == "completed" and view["result"]["output"] == "OUT-crash", view["result"]


def test_start_refuses_a_database_whose_schema_is_behind(postgres_server: str, tmp_path: Path) -> None:
    url = _create_database(postgres_server)
    home = tmp_path / "node"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"PORT": 1, "DATABASE_URL": url}))
    started = _ccr(home, "start", "--foreground", url=url)
    assert started.returncode != 0
    assert "ccr db upgrade" in started.stderr + started.stdout
    assert _ccr(home, "db", "status", url=url).returncode == 1
    upgraded = _ccr(home, "db", "upgrade", url=url)
    assert upgraded.returncode == 0 and "applied 1:" in upgraded.stdout
    again = _ccr(home, "db", "upgrade", url=url)
    assert "up to date" in again.stdout
    assert _ccr(home, "db", "status", url=url).returncode == 0
