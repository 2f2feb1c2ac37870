"""The processes under test: start, pin to a core, read CPU and memory from /proc, stop.

CPU is the run time of all the process's threads from /proc/<pid>/task/*/schedstat (in ns;
utime+stime from /proc/<pid>/stat, in 10 ms ticks, where schedstat is missing);
memory is VmRSS (now) and VmHWM (peak since start) from /proc/<pid>/status.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Proc", "free_port", "pin", "cores", "start_upstream", "start_bare", "start_ccr",
           "start_peer", "peer_cli", "PEER_PACKAGE"]

ROOT = Path(__file__).resolve().parent.parent
PEER_PACKAGE = "@musistudio/claude-code-router@2.0.0"
PEER_PREFIX = ROOT / ".cache" / "bench-peer"
_TICK = os.sysconf("SC_CLK_TCK")
_SCHEDSTAT = Path("/proc/self/schedstat").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pin(pid: int, core: int | None) -> bool:
    """Pin a process and all its threads to one core; False when the machine does not allow it."""
    if core is None:
        return False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tasks = [str(pid)]
    try:
        for task in tasks:
            os.sched_setaffinity(int(task), {core})
    except OSError:
        return False
    return True


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    workdir: Path | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """CPU time of all the process's threads, in nanosecond resolution where the kernel keeps
        schedstat (utime+stime are in 10 ms ticks: too coarse for a 1 s case of slow streams)."""
        if not _SCHEDSTAT:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
        total = 0
        for task in os.listdir(f"/proc/{self.pid}/task"):
            try:
                total += int(Path(f"/proc/{self.pid}/task/{task}/schedstat").read_text().split()[0])
            except FileNotFoundError:  # a thread that ended meanwhile
                continue
        return total / 1e9

    def loop_cpu_seconds(self) -> float:
        """CPU time of the main thread alone: the event loop, which every request waits on. The
        process's other threads (the usage ledger's writer, the token counter's warm-up) are
        off the hot path, but in `cpu_seconds`."""
        task = f"/proc/{self.pid}/task/{self.pid}"
        if not _SCHEDSTAT:
            fields = Path(f"{task}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICK
        return int(Path(f"{task}/schedstat").read_text().split()[0]) / 1e9

    def memory_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) in MB."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                values[key] = int(value.split()[0]) / 1024
        return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def output(self) -> str:
        """What the process wrote (stdout and stderr go to one file in its workdir)."""
        if self.workdir is None or not (self.workdir / "output.log").exists():
            return ""
        return (self.workdir / "output.log").read_text(errors="replace")[-4000:]


async def _wait_port(proc: Proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.output()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", proc.port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    proc.stop()
    raise RuntimeError(f"{proc.name} did not listen on port {proc.port} within {timeout:.0f} s")


def _pythonpath() -> str:
    """This checkout first, so `bench` imports; a PYTHONPATH the user set is kept after it."""
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the benchmark process goes away, however it ends."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(name: str, argv: list[str], port: int, workdir: Path, env: dict[str, str]) -> Proc:
    log = open(workdir / "output.log", "wb")  # noqa: SIM115 (the child owns it)
    popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=workdir, env=env, preexec_fn=_die_with_parent)
    log.close()
    return Proc(name, popen, port, workdir)


async def start_upstream(workdir: Path, core: int | None) -> Proc:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    proc = _spawn("upstream", [sys.executable, "-m", "bench.upstream", "--port", str(port)],
                  port, workdir, env)
    pin(proc.pid, core)
    await _wait_port(proc)
    return proc


async def start_bare(workdir: Path, upstream_port: int, core: int | None) -> Proc:
    """The bare aiohttp converter (bench/bare.py), on the proxy's core like ccr."""
    port = free_port()
    home = workdir / "bare"
    home.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": _pythonpath()}  # its ClientSession ignores proxy variables
    proc = _spawn("bare", [sys.executable, "-m", "bench.bare", "--port", str(port), "--upstream",
                           f"http://127.0.0.1:{upstream_port}/v1/chat/completions"], port, home, env)
    pin(proc.pid, core)
    await _wait_port(proc)
    pin(proc.pid, core)  # threads started during start-up
    return proc


def _router_config(upstream_port: int, port: int) -> dict[str, object]:
    """The same routing for ccr and the peer: default plus the long-context rule, no logs."""
    return {
        "PORT": port, "HOST": "127.0.0.1", "LOG": False, "LOG_LEVEL": "warn",
        "API_TIMEOUT_MS": 600000,
        "Providers": [{"name": "bench", "api_base_url":
                       f"http://127.0.0.1:{upstream_port}/v1/chat/completions",
                       "api_key": "sk-bench", "models": ["bench-model"]}],
        "Router": {"default": "bench,bench-model", "longContext": "bench,bench-model",
                   "longContextThreshold": 60000},
    }


async def start_ccr(workdir: Path, upstream_port: int, core: int | None, tree: Path | None = None,
                    name: str = "ccr") -> Proc:
    """ccr from this checkout, or with `tree` from another one (bench/tree_boot.py)."""
    port = free_port()
    home = workdir / f"{name}-home"
    home.mkdir(parents=True)
    config = home / "config.json"
    config.write_text(json.dumps(_router_config(upstream_port, port), indent=2))
    env = {**os.environ, "CCR_HOME": str(home), "HOME": str(home), "PYTHONPATH": _pythonpath()}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(proxy, None)
    boot = ["-m", "ccr"] if tree is None else ["-m", "bench.tree_boot", str(tree)]
    proc = _spawn(name, [sys.executable, *boot, "start", "--foreground", "--config", str(config)],
                  port, home, env)
    pin(proc.pid, core)
    await _wait_port(proc)
    pin(proc.pid, core)  # threads started during start-up
    return proc


def peer_cli() -> Path | None:
    """claude-code-router's cli.js, installed once into .cache/bench-peer with npm."""
    cli = PEER_PREFIX / "node_modules" / "@musistudio" / "claude-code-router" / "dist" / "cli.js"
    if cli.exists():
        return cli
    if shutil.which("npm") is None or shutil.which("node") is None:
        return None
    PEER_PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "install", "--prefix", str(PEER_PREFIX), "--no-audit", "--no-fund",
                           PEER_PACKAGE], capture_output=True, timeout=600)
    return cli if done.returncode == 0 and cli.exists() else None


async def start_peer(workdir: Path, upstream_port: int, core: int | None) -> Proc | None:
    cli = peer_cli()
    if cli is None:
        return None
    port = free_port()
    home = workdir / "peer-home"
    (home / ".claude-code-router").mkdir(parents=True)
    (home / ".claude-code-router" / "config.json").write_text(
        json.dumps(_router_config(upstream_port, port), indent=2))
    env = {**os.environ, "HOME": str(home)}
    env.pop("SERVICE_PORT", None)
    proc = _spawn("claude-code-router", ["node", str(cli), "start"], port, home, env)
    pin(proc.pid, core)
    await _wait_port(proc)
    pin(proc.pid, core)
    return proc
