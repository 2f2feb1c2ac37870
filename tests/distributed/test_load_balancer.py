"""deploy/nginx.conf, as shipped, in front of two ccr replicas on one PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.execution.conftest import claude_bin
from tests.helpers import free_port

from .cluster import APIKEY, ROOT, Cluster
from .test_cluster import _ccr, _create_database

pytestmark = pytest.mark.timeout(300)


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (the test command installs Debian's nginx-light)")
        pytest.skip("nginx is not installed")
    return found


def _config(example: str, replicas: list[int], port: int, prefix: Path) -> str:
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=2 fail_timeout=10s;\n" for p in replicas)
    body = re.sub(r"(?m)^    server 10\.0\.0\.\d+:3456 .*\n", "", example)
    body = body.replace("    keepalive 64;", servers + "    keepalive 64;")
    body = body.replace("listen 3456;", f"listen 127.0.0.1:{port};")
    assert servers in body and f"listen 127.0.0.1:{port};" in body
    return (f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\nhttp {{\n"
            f"access_log off;\nclient_body_temp_path {prefix}/body;\nproxy_temp_path {prefix}/proxy;\n"
            f"{body}\n}}\n")


@pytest.fixture(scope="module")
def balanced(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    nginx = _nginx()
    url = _create_database(postgres_server)
    root = tmp_path_factory.mktemp("balanced")
    assert _ccr(root / "admin", "db", "upgrade", url=url).returncode == 0
    cluster = Cluster(root, url, claude_bin())
    prefix = root / "nginx"
    prefix.mkdir()
    proxy = None
    try:
        cluster.start_model()
        nodes = [cluster.node("replica-1"), cluster.node("replica-2")]
        port = free_port()
        example = (ROOT / "deploy" / "nginx.conf").read_text()
        (prefix / "nginx.conf").write_text(_config(example, [n.port for n in nodes if n.port], port, prefix))
        proxy = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                                 stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not (prefix / "nginx.pid").exists():
            assert proxy.poll() is None and time.monotonic() < deadline, proxy.stderr and proxy.stderr.read()
            time.sleep(0.1)
        yield {"url": f"http://127.0.0.1:{port}", "nodes": nodes, "cluster": cluster}
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(20)
            if proxy.stderr:
                proxy.stderr.close()
        cluster.stop_all()


async def _message(http: aiohttp.ClientSession, base: str, session: str | None, stream: bool) -> tuple[str, str]:
    headers = {"x-api-key": APIKEY, "anthropic-version": "2023-06-01"}
    if session:
        headers["X-Claude-Code-Session-Id"] = session
    body = {"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": stream,
            "messages": [{"role": "user", "content": "Answer MARK-lb"}]}
    async with http.post(f"{base}/v1/messages", json=body, headers=headers) as response:
        text = await response.text()
        assert response.status == 200, text
        return response.headers["X-CCR-Replica"], text


async def test_sessions_stick_to_a_replica_and_streams_pass_through(balanced: dict[str, Any]) -> None:
    base = balanced["url"]
    sessions = [str(uuid.uuid4()) for _ in range(8)]
    seen: dict[str, set[str]] = {s: set() for s in sessions}
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            for session in sessions:
                replica, _ = await _message(http, base, session, stream=False)
                seen[session].add(replica)
        replica, text = await _message(http, base, sessions[0], stream=True)
        assert "event: message_stop" in text and "OUT-lb" in text
        assert replica in seen[sessions[0]]
        anonymous = {(await _message(http, base, None, stream=False))[0] for _ in range(12)}
    assert all(len(replicas) == 1 for replicas in seen.values()), seen  # sticky by session
    every = {r for replicas in seen.values() for r in replicas} | anonymous
    assert len(every) == 2  # both replicas serve


async def test_every_replica_reports_the_whole_teams_use(balanced: dict[str, Any]) -> None:
    """The ledger is shared: /api/stats and ccr usage give the same totals on either replica."""
    base, nodes = balanced["url"], balanced["nodes"]
    marker = str(uuid.uuid4())
    async with aiohttp.ClientSession() as http:
        for _ in range(10):
            await _message(http, base, None, stream=False)
        await _message(http, base, marker, stream=True)

        async def totals() -> list[dict[str, Any]]:
            answers = []
            for node in nodes:
                async with http.get(f"{node.url}/api/stats", params={"by": "session"},
                                    headers={"x-api-key": APIKEY}) as response:
                    assert response.status == 200, await response.text()
                    answers.append(await response.json())
            return answers

        deadline = time.monotonic() + 30
        while True:
            answers = await totals()
            sessions = [{row["key"] for row in a["rows"]} for a in answers]
            first, second = (a["total"] for a in answers)
            # Each replica writes its rows in batches, so the two answers can be a batch
            # apart for a moment; they must meet once every batch is written.
            settled = all(marker in s for s in sessions) and first == second
            if settled or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    assert all(marker in s for s in sessions), "a replica's rows never reached the shared ledger"
    assert first == second, (first, second)
    assert first["requests"] >= 11
