"""Real processes for the distributed tests: ccr router nodes, `ccr worker`s and a fake model.

Each process has its own CCR_HOME (as on its own host) and they share one PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import free_port

APIKEY = "cluster-test-key-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    root: Path
    database_url: str
    claude: str
    model_port: int = 0
    procs: list[Proc] = field(default_factory=list)

    def _config(self, port: int, **claude_code: Any) -> dict[str, Any]:
        return {
            "APIKEY": APIKEY, "PORT": port, "DATABASE_URL": self.database_url, "CLAUDE_PATH": self.claude,
            "LOG_LEVEL": "info",
            "Providers": [{"name": "fake", "api_base_url": f"http://127.0.0.1:{self.model_port}/v1/chat/completions",
                           "api_key": "sk-upstream-secret", "models": ["gpt-test"]}],
            "Router": {"default": "fake,gpt-test"},
            "ClaudeCode": {"lease_seconds": 3, "max_concurrent": 2, "retry_backoff": 0.1, "cli_max_retries": 0,
                           "max_retries": 0, **claude_code},
        }

    def _spawn(self, name: str, argv: list[str], config: dict[str, Any] | None,
               env: dict[str, str] | None = None) -> Proc:
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        if config is not None:
            (home / "config.json").write_text(json.dumps(config))
        log = home / "process.log"
        log_file = log.open("wb")
        full_env = {**os.environ, "CCR_HOME": str(home), "HOME": str(home), **(env or {})}
        full_env.pop("CCR_DATABASE_URL", None)
        popen = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdin=subprocess.DEVNULL,
                                 stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()  # the child has its own copy
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_model(self) -> None:
        self.model_port = free_port()
        proc = self._spawn("model", [sys.executable, "-m", "tests.distributed.fake_model", str(self.model_port)],
                           None)
        proc.port = self.model_port
        self._wait(proc, lambda: "ready" in proc.output())

    def node(self, name: str, *, worker: bool = False, **claude_code: Any) -> Proc:
        """`ccr start --foreground` (with `--no-worker` unless `worker`)."""
        port = free_port()
        argv = [sys.executable, "-m", "ccr", "start", "--foreground"]
        if not worker:
            argv.append("--no-worker")
        proc = self._spawn(name, argv, self._config(port, **claude_code))
        proc.port = port
        self._wait(proc, lambda: _answers(proc.url))
        return proc

    def worker(self, name: str, router: Proc, concurrency: int = 2, **claude_code: Any) -> Proc:
        """`ccr worker` whose CLIs talk to `router` (the PORT in its config)."""
        assert router.port is not None
        proc = self._spawn(name, [sys.executable, "-m", "ccr", "worker", "--concurrency", str(concurrency)],
                           self._config(router.port, **claude_code))
        self._wait(proc, lambda: "taking tasks" in proc.output())
        return proc

    def _wait(self, proc: Proc, ready: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise AssertionError(f"{proc.name} exited {proc.popen.returncode}:\n{proc.output()[-3000:]}")
            if ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"{proc.name} not ready within {timeout} s:\n{proc.output()[-3000:]}")

    def kill(self, proc: Proc, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, sig)
        proc.popen.wait(30)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.popen.wait(40)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def model_state(cluster: Cluster) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{cluster.model_port}/state", timeout=5) as response:
        return dict(json.loads(response.read()))


def release_model(cluster: Cluster) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{cluster.model_port}/release", method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass
