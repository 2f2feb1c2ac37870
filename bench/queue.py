"""The task queue's throughput and latency, on SQLite and on PostgreSQL, with a fake Claude Code CLI.

    python -m bench.queue                       # both backends, 200 tasks each
    python -m bench.queue --backend postgres --tasks 500 --workers 2

A real `ccr start` (and, with --workers, that many `ccr worker` processes on the same database)
runs tasks whose "CLI" is a shell script that prints a result line at once, so what is measured
is ccr's own path: submit (POST /api/claude-code/async), pick-up, process start, completion and
the store. Reported: tasks per second from the first submit to the last completion, and the
latency from submit to start and to completion (p50, p95), from the task rows' own timestamps.
PostgreSQL is started for the run in a temporary folder (initdb, as for the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from .procs import free_port

ROOT = Path(__file__).resolve().parents[1]
_FAKE_CLI = """#!/bin/sh
echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"bench",\
"total_cost_usd":0,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":1}}'
"""


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    sys.path.insert(0, str(ROOT))
    from tests.pgserver import find_bindir, running_postgres

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (Debian's postgresql)")
    with running_postgres(bindir) as url:
        yield url


def _spawn(argv: list[str], home: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (home / "process.log").open("wb")
    try:
        return subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "CCR_HOME": str(home), "HOME": str(home), **env},
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        log.close()


async def _wait_health(url: str, proc: subprocess.Popen[bytes], home: Path) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit(f"ccr exited:\n{(home / 'process.log').read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise SystemExit("ccr did not start")


def _stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


async def _drive(url: str, apikey: str, tasks: int, concurrency: int) -> dict[str, Any]:
    headers = {"x-api-key": apikey}
    async with aiohttp.ClientSession(headers=headers) as http:
        gate = asyncio.Semaphore(concurrency)

        async def submit(i: int) -> str:
            async with gate, http.post(f"{url}/api/claude-code/async", json={"prompt": f"task {i}"}) as response:
                body = await response.json()
                if response.status != 202:
                    raise SystemExit(f"submit failed: {response.status} {body}")
                return str(body["task_id"])

        started = time.monotonic()
        ids = await asyncio.gather(*(submit(i) for i in range(tasks)))
        while True:
            async with http.get(f"{url}/api/tasks", params={"status": "completed", "limit": "1"}) as response:
                if (await response.json())["total"] >= tasks:
                    break
            await asyncio.sleep(0.05)
        wall = time.monotonic() - started
        views = []
        for task_id in ids:
            async with http.get(f"{url}/api/claude-code/task/{task_id}") as response:
                views.append(await response.json())
    to_start = [(_stamp(v["started_at"]) - _stamp(v["created_at"])) * 1000 for v in views]
    to_done = [(_stamp(v["completed_at"]) - _stamp(v["created_at"])) * 1000 for v in views]
    first = min(_stamp(v["created_at"]) for v in views)
    last = max(_stamp(v["completed_at"]) for v in views)
    return {"tasks": tasks, "tasks_per_s": round(tasks / max(last - first, 1e-9), 1), "wall_s": round(wall, 2),
            "start_p50_ms": round(_pct(to_start, 0.5), 1), "start_p95_ms": round(_pct(to_start, 0.95), 1),
            "done_p50_ms": round(_pct(to_done, 0.5), 1), "done_p95_ms": round(_pct(to_done, 0.95), 1)}


async def _run_backend(backend: str, tasks: int, workers: int, concurrency: int, slots: int) -> dict[str, Any]:
    apikey = "bench-queue-key-0123456789"
    with tempfile.TemporaryDirectory(prefix="ccr-bench-queue-") as tmp, \
            (_postgres() if backend == "postgres" else contextlib.nullcontext("")) as database:
        root = Path(tmp)
        cli = root / "fake-claude"
        cli.write_text(_FAKE_CLI)
        cli.chmod(0o755)
        port = free_port()
        config = {"APIKEY": apikey, "PORT": port, "CLAUDE_PATH": str(cli), "LOG": False,
                  "Providers": [], "ClaudeCode": {"max_concurrent": slots, "max_queue": 100_000,
                                                  "rate_limit_per_minute": 0, "max_retries": 0}}
        env = {}
        if database:
            env["CCR_DATABASE_URL"] = database
            await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "ccr", "db", "upgrade"], cwd=ROOT,
                                    check=True, capture_output=True, env={**os.environ, **env})
        procs: list[subprocess.Popen[bytes]] = []
        try:
            home = root / "node"
            home.mkdir()
            (home / "config.json").write_text(json.dumps(config))
            procs.append(_spawn([sys.executable, "-m", "ccr", "start", "--foreground"], home, env))
            url = f"http://127.0.0.1:{port}"
            await _wait_health(url, procs[0], home)
            for n in range(workers if database else 0):
                whome = root / f"worker-{n}"
                whome.mkdir()
                (whome / "config.json").write_text(json.dumps(config))
                procs.append(_spawn([sys.executable, "-m", "ccr", "worker"], whome, env))
            await asyncio.sleep(1.0 if workers and database else 0)
            result = await _drive(url, apikey, tasks, concurrency)
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                proc.wait(30)
    return {"backend": backend, "workers": workers if database else 0, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0, help="extra `ccr worker` processes (PostgreSQL only)")
    parser.add_argument("--slots", type=int, default=8, help="ClaudeCode.max_concurrent of each process")
    parser.add_argument("--concurrency", type=int, default=16, help="submits in flight")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows = [asyncio.run(_run_backend(b, args.tasks, args.workers, args.concurrency, args.slots)) for b in backends]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
