"""The background service: find it, start it, stop it (the CLI side; one service per CCR_HOME).

    found = probe(home)                      # Probe(state="running", pid=…, record=…, health=…)
    found, started = start(home)             # spawn `python -m ccr start --foreground` if needed
    stop(home)                               # SIGTERM, wait until the process is gone

Starting and stopping hold an flock on `$CCR_HOME/.ccr.lock`, so concurrent `ccr start` and
`ccr code` runs never start two servers: the second one waits and then finds the first.
The child runs in its own session, its stdout in `$CCR_HOME/logs/daemon.log` and its stderr in
`daemon-errors.log` (both rewritten at each start); it writes the
service record itself once it listens (see ccr/service_record.py), and `start` returns once
`GET /health` answers at the recorded address.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from ccr.service_record import (
    DAEMON_FLAG,
    ServiceRecord,
    alive,
    born_after,
    is_ccr,
    read_pid,
    read_record,
    remove,
    withdraw,
)

from .client import ServiceClient

__all__ = ["DaemonError", "Probe", "probe", "start", "stop", "service_lock", "output_file", "error_file",
           "restart",
           "START_TIMEOUT", "STOP_TIMEOUT"]

START_TIMEOUT = float(os.environ.get("CCR_START_TIMEOUT", "30"))  # import + config + bind, 2 s usually
STOP_TIMEOUT = 45.0   # the server gives streams 30 s (serve.SHUTDOWN_GRACE), then closes
LOCK_TIMEOUT = 90.0   # longer than one start or stop by the holder
_POLL = 0.05

State = Literal["running", "unresponsive", "stopped", "stale"]


class DaemonError(Exception):
    """A start or stop that failed; the message is for the user, as is."""


@dataclass(frozen=True, slots=True)
class Probe:
    state: State
    pid: int | None = None
    record: ServiceRecord | None = None
    health: dict[str, Any] | None = None
    reason: str = ""  # why a pid file is stale

    @property
    def running(self) -> bool:
        return self.state == "running"


def output_file(home: Path) -> Path:
    """The daemon's stdout: start-up notes, "listening on …"."""
    return home / "logs" / "daemon.log"


def error_file(home: Path) -> Path:
    """The daemon's stderr: why it did not start, or a crash."""
    return home / "logs" / "daemon-errors.log"


def probe(home: Path) -> Probe:
    """What the pid file says, checked: the process lives, is ccr, and answers /health."""
    pid = read_pid(home)
    if pid is None:
        return Probe("stopped")
    if not alive(pid):
        return Probe("stale", pid, reason=f"process {pid} is gone")
    if not is_ccr(pid):
        return Probe("stale", pid, reason=f"process {pid} is not ccr")
    record = read_record(home, pid)
    if record is not None and born_after(pid, record):
        return Probe("stale", pid, reason=f"pid {pid} now belongs to another process")
    if record is None:
        return Probe("unresponsive", pid)
    health = ServiceClient(record.url).health()
    return Probe("running" if health else "unresponsive", pid, record, health)


@contextlib.contextmanager
def service_lock(home: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / ".ccr.lock", os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by children
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DaemonError(f"another ccr command has been starting or stopping the service "
                                      f"for {timeout:.0f}s (lock {home / '.ccr.lock'}); try again") from None
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)


def start(home: Path, *, config: str | None = None, host: str | None = None, port: int | None = None,
          timeout: float = START_TIMEOUT) -> tuple[Probe, bool]:
    """Make sure the service runs: (its probe, whether this call started it)."""
    with service_lock(home):
        return _start_locked(home, config, host, port, timeout)


def _start_locked(home: Path, config: str | None, host: str | None, port: int | None,
                  timeout: float) -> tuple[Probe, bool]:
    found = probe(home)
    if found.state == "unresponsive":  # starting up, or re-executing itself on a new address
        found = _wait_healthy(home, found, timeout)
    if found.running:
        return found, False
    if found.state == "stale":
        remove(home)
    child = _spawn(home, config, host, port)
    return _wait_started(home, child, timeout), True


def _wait_healthy(home: Path, found: Probe, timeout: float) -> Probe:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe(home)
        if found.state != "unresponsive":
            return found
        time.sleep(_POLL * 2)
    where = found.record.url if found.record else "its address"
    raise DaemonError(f"ccr (pid {found.pid}) is running but does not answer at {where}; "
                      f"see {error_file(home)}, or run `ccr stop`")


def _spawn(home: Path, config: str | None, host: str | None, port: int | None) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "ccr", "start", "--foreground", DAEMON_FLAG]
    if config:
        argv += ["--config", str(Path(config).expanduser().resolve())]
    if host:
        argv += ["--host", host]
    if port:
        argv += ["--port", str(port)]
    output_file(home).parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CCR_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    # New files at each start: daemon-errors.log then holds this start's reasons only. Append
    # mode, so that clearing a file through DELETE /api/logs leaves no hole of zero bytes.
    with _fresh_log(output_file(home)) as out, _fresh_log(error_file(home)) as err:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                cwd=home, env=env, start_new_session=True, close_fds=True)


def _fresh_log(path: Path) -> IO[bytes]:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600), "ab")


def _wait_started(home: Path, child: subprocess.Popen[bytes], timeout: float) -> Probe:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            raise DaemonError(f"the service did not start: {failure_reason(home, code)}")
        if read_pid(home) == child.pid:
            found = probe(home)
            if found.running:
                child.returncode = 0  # detached on purpose: no "still running" warning from Popen
                return found
        time.sleep(_POLL)
    _terminate(child.pid)
    child.wait()
    raise DaemonError(f"the service did not answer /health within {timeout:.0f}s and was stopped; "
                      f"see {output_file(home)} and {error_file(home)}")


def failure_reason(home: Path, code: int) -> str:
    """The first `ccr: …` error (with its indented lines) the child printed, else its last line
    (a traceback's exception)."""
    try:
        lines = [line.rstrip() for line in error_file(home).read_text(errors="replace").splitlines()
                 if line.strip()]
    except OSError:
        lines = []
    starts = [i for i, line in enumerate(lines) if line.startswith("ccr: ")]
    if starts:
        block = [lines[starts[0]][len("ccr: "):]]
        for line in lines[starts[0] + 1:]:
            if not line.startswith(" "):
                break
            block.append(line)
        return "\n".join(block)
    if lines:
        return f"{lines[-1]} (exit status {code}; see {error_file(home)})"
    return f"exit status {code}, no output (see {output_file(home)})"


def stop(home: Path, timeout: float = STOP_TIMEOUT) -> Probe:
    """Stop the service gracefully; returns what was found (state "stopped"/"stale": nothing ran)."""
    with service_lock(home):
        return _stop_locked(home, timeout)


def restart(home: Path, *, config: str | None = None, host: str | None = None, port: int | None = None,
            timeout: float = START_TIMEOUT) -> tuple[Probe, Probe]:
    """(what was stopped, what now runs), under one lock so nobody starts one in between."""
    with service_lock(home):
        before = _stop_locked(home, STOP_TIMEOUT)
        if config is None and before.record is not None and before.record.config:
            config = before.record.config  # the same file again, read anew
        after, _ = _start_locked(home, config, host, port, timeout)
        return before, after


def _stop_locked(home: Path, timeout: float) -> Probe:
    found = probe(home)
    if found.state == "stale":
        remove(home)
    if found.pid is None or found.state in ("stopped", "stale"):
        return found
    _terminate(found.pid, timeout)
    withdraw(home, found.pid)
    return found


def _terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, wait (bounded) for the process to go, SIGKILL if it will not."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        raise DaemonError(f"not allowed to stop process {pid} (it belongs to another user)") from None
    if _gone_within(pid, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _gone_within(pid, 5.0):
        raise DaemonError(f"process {pid} did not exit after SIGTERM and SIGKILL")


def _gone_within(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(_POLL)
    return not alive(pid)
