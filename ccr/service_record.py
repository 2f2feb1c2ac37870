"""The service record: which ccr server runs for a CCR_HOME, where, and since when.

The server writes two files in `$CCR_HOME` once it listens, and removes them when it exits:

    .claude-code-router.pid    the pid alone (claude-code-router's file and format)
    .claude-code-router.json   {"pid": 4242, "host": "127.0.0.1", "port": 3456,
                                "url": "http://127.0.0.1:3456", "config": "/…/config.json",
                                "started": 1763775600.5, "version": "0.1.0", "daemon": true}

A pid alone is not proof: the process may be gone, or the pid reused by another program (the
cause of claude-code-router's "zombie service" reports). `owner(pid, record)` also checks
that the process is a `ccr start`, and that it was not born after the record was written.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = [
    "ServiceRecord",
    "PID_FILE",
    "DAEMON_FLAG",
    "RECORD_FILE",
    "publish",
    "withdraw",
    "read_pid",
    "read_record",
    "remove",
    "alive",
    "is_ccr",
    "started_at",
    "born_after",
    "connect_url",
]

PID_FILE = ".claude-code-router.pid"
DAEMON_FLAG = "--daemonized"  # hidden `ccr start` flag of the child that `ccr start` spawns
RECORD_FILE = ".claude-code-router.json"


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    pid: int
    host: str
    port: int
    url: str        # where clients on this machine reach it
    config: str     # the config file it loaded
    started: float  # epoch seconds
    version: str
    daemon: bool    # started by `ccr start` in the background (it re-executes itself on a new address)


def connect_url(host: str, port: int) -> str:
    """The address a local client uses: wildcard and name binds are reached over loopback."""
    if host in ("0.0.0.0", "", "localhost"):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def publish(home: Path, record: ServiceRecord) -> None:
    """Write the record, then the pid file (a reader that sees the pid finds its record)."""
    home.mkdir(parents=True, exist_ok=True)
    _write(home / RECORD_FILE, json.dumps(asdict(record), indent=2) + "\n")
    _write(home / PID_FILE, f"{record.pid}\n")


def withdraw(home: Path, pid: int) -> None:
    """Remove the files if they still name `pid` (a newer server may have replaced them)."""
    if read_pid(home) == pid:
        remove(home)


def remove(home: Path) -> None:
    for name in (PID_FILE, RECORD_FILE):
        with contextlib.suppress(FileNotFoundError):
            (home / name).unlink()


def read_pid(home: Path) -> int | None:
    try:
        text = (home / PID_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def read_record(home: Path, pid: int) -> ServiceRecord | None:
    """The record of `pid`, or None when it is missing, unreadable or names another pid."""
    try:
        data = json.loads((home / RECORD_FILE).read_text(encoding="utf-8"))
        record = ServiceRecord(**{f.name: data[f.name] for f in fields(ServiceRecord)})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if record.pid == pid else None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")"
    return stat[stat.rfind(")") + 2:].split()


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan whose parent never reaped it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    return not (fields and fields[0] in ("Z", "X"))


def is_ccr(pid: int) -> bool:
    """The process is a `ccr start` (`ccr start …`, `python -m ccr start …`, `-m ccr.cli.main start …`)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    words = [a.decode(errors="replace") for a in args if a]
    named = any(os.path.basename(w) in ("ccr", "ccr.exe", "ccr.cli", "ccr.cli.main") for w in words)
    return named and "start" in words


def started_at(pid: int) -> float | None:
    """When the process was created (epoch seconds), from /proc; None when unknown."""
    fields = _stat_fields(pid)
    if not fields or len(fields) < 20:
        return None
    try:
        ticks = int(fields[19])  # field 22 of /proc/pid/stat, counted from the state field (3)
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, ValueError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def born_after(pid: int, record: ServiceRecord) -> bool:
    """The pid was reused: its process was created after the record was written."""
    created = started_at(pid)
    return created is not None and created > record.started + 2.0  # btime has one-second steps
