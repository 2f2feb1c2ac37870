"""`ccr start | stop | restart | status | version`: the background service."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccr import __version__
from ccr.cli import daemon
from ccr.config import read_raw
from ccr.errors import ConfigError
from ccr.service_record import DAEMON_FLAG, PID_FILE

from . import first_run
from .common import CLIError, config_file, home

__all__ = ["register"]

EXIT_NOT_RUNNING = 3       # LSB `status`: program is not running
EXIT_NOT_ANSWERING = 1     # LSB `status`: program is dead (or here: not answering) but the pid file exists


def register(commands: Any) -> None:
    start = commands.add_parser("start", help="start the router in the background",
                                description="Start the router as a background service and wait until it "
                                            "answers; with --foreground, run it in this process.")
    start.add_argument("--foreground", action="store_true",
                       help="run in this process until SIGTERM/Ctrl-C (for systemd, containers, tests)")
    _address_options(start)
    _worker_option(start)
    start.add_argument(DAEMON_FLAG, action="store_true", help=argparse.SUPPRESS)
    start.set_defaults(func=run_start)

    stop = commands.add_parser("stop", help="stop the background service",
                               description="Stop the service gracefully: running streams get up to 30 s "
                                           "to finish.")
    stop.set_defaults(func=run_stop)

    restart = commands.add_parser("restart", help="stop and start the service (reads the config anew)",
                                  description="Stop the service and start it again with the config file "
                                              "read anew (the same file unless --config is given).")
    _address_options(restart)
    _worker_option(restart)
    restart.set_defaults(func=run_restart)

    status = commands.add_parser("status", help="is the service running? where, since when, which routes",
                                 description="Show the service's state. Exit status: 0 running, "
                                             "1 running but not answering, 3 not running.")
    status.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    status.set_defaults(func=run_status)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(func=lambda args: print(f"ccr {__version__}") or 0)


def _worker_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-worker", action="store_true",
                        help="with a shared database (DATABASE_URL): accept Claude Code tasks but run "
                             "none here; `ccr worker` processes run them")


def _no_worker(args: argparse.Namespace) -> None:
    if getattr(args, "no_worker", False):
        os.environ["CCR_NO_WORKER"] = "1"  # the service process (and a daemon's child) reads it


def _address_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="config file (default: $CCR_CONFIG or $CCR_HOME/config.json)")
    parser.add_argument("--host", help="listen address (overrides HOST)")
    parser.add_argument("--port", type=int, help="listen port (overrides PORT)")


def run_start(args: argparse.Namespace) -> int:
    _no_worker(args)
    if args.foreground:
        return _foreground(args)
    path = config_file(args.config)
    existed = path.exists()
    found, started = daemon.start(home(), config=args.config, host=args.host, port=args.port)
    assert found.record is not None
    if started:
        print(f"ccr is running at {found.record.url} (pid {found.pid})")
        for line in first_run.after_start(path, found.record.url, wrote_config=not existed):
            print(line)
        return 0
    print(f"ccr is already running at {found.record.url} (pid {found.pid})")
    if args.config or args.host or args.port:
        print("ccr: --config/--host/--port apply to a new start: use `ccr restart` with them",
              file=sys.stderr, flush=True)
    return 0


def _foreground(args: argparse.Namespace) -> int:
    """Run here. The daemon's parent has checked for a running service (under the lock); a user's
    foreground start is refused when the recorded service runs the same config, and runs
    unrecorded next to one that runs another config (the pid file names one service per home)."""
    record = True
    if not args.daemonized:
        found = daemon.probe(home())
        if found.state in ("running", "unresponsive"):
            where = f" at {found.record.url}" if found.record else ""
            theirs = found.record.config if found.record else None
            if theirs is None or theirs == str(config_file(args.config)):
                raise CLIError(f"ccr is already running{where} (pid {found.pid}); stop it with "
                               "`ccr stop` or use another CCR_HOME")
            print(f"ccr: another ccr runs{where} (pid {found.pid}, config {theirs}) for this CCR_HOME; "
                  "this one is not recorded, so `ccr status` and `ccr stop` will not see it",
                  file=sys.stderr, flush=True)
            record = False
    from ccr.server.serve import serve

    return serve(args.config, args.host, args.port, daemon=args.daemonized, record=record)


def run_stop(args: argparse.Namespace) -> int:
    found = daemon.stop(home())
    if found.state == "stale":
        print(f"ccr is not running (removed a stale pid file: {found.reason})")
    elif found.state == "stopped":
        print("ccr is not running")
    else:
        print(f"ccr stopped (pid {found.pid})")
    return 0


def run_restart(args: argparse.Namespace) -> int:
    _no_worker(args)
    running = daemon.probe(home())
    path = config_file(args.config, running)
    problems = first_run.check(path)  # before stopping anything: a bad file leaves the service up
    if problems:
        left = (f"the running service (pid {running.pid}) was left as it is"
                if running.state in ("running", "unresponsive") else "nothing was started")
        raise CLIError(f"not restarted: {path} has problems; {left}:\n"
                       + "\n".join(f"  - {p}" for p in problems), 2)
    before, after = daemon.restart(home(), config=args.config, host=args.host, port=args.port)
    if before.state in ("running", "unresponsive"):
        print(f"ccr stopped (pid {before.pid})")
    assert after.record is not None
    print(f"ccr is running at {after.record.url} (pid {after.pid})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    root = home()
    found = daemon.probe(root)
    report = _report(root, found)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_text(report))
    if found.running:
        return 0
    return EXIT_NOT_ANSWERING if found.state == "unresponsive" else EXIT_NOT_RUNNING


def _report(root: Path, found: daemon.Probe) -> dict[str, Any]:
    record, health = found.record, found.health or {}
    path = config_file(None, found)
    report: dict[str, Any] = {
        "running": found.running,
        "state": found.state,
        "pid": found.pid if found.state in ("running", "unresponsive") else None,
        "url": record.url if record else None,
        "host": record.host if record else None,
        "port": record.port if record else None,
        "started": _iso(record.started) if record else None,
        "uptime_seconds": health.get("uptime_seconds"),
        "version": health.get("version") or (record.version if record else __version__),
        "cli_version": __version__,
        "daemon": record.daemon if record else None,
        "config": str(path),
        "pid_file": str(root / PID_FILE),
        "log": str(daemon.output_file(root)) if record and record.daemon else None,
        "error_log": str(daemon.error_file(root)) if record and record.daemon else None,
    }
    if found.state == "stale":
        report["stale"] = found.reason
    report.update(_routes(path))
    return report


def _routes(path: Path) -> dict[str, Any]:
    """Providers and routes as written in the file (no $VAR needed to show them)."""
    try:
        raw = read_raw(path) if path.exists() else {}
    except ConfigError as exc:
        return {"providers": [], "router": {}, "config_error": exc.message}
    providers = raw.get("Providers", raw.get("providers", []))
    router = raw.get("Router", {})
    return {
        "providers": [{"name": p.get("name"), "models": p.get("models", [])}
                      for p in providers if isinstance(p, dict)] if isinstance(providers, list) else [],
        "router": {k: v for k, v in router.items() if k != "longContextThreshold"}
        if isinstance(router, dict) else {},
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    return " ".join([*parts, f"{secs}s"])


def _text(r: dict[str, Any]) -> str:
    if r["state"] == "running":
        head = "ccr is running"
    elif r["state"] == "unresponsive":
        head = f"ccr is running (pid {r['pid']}) but does not answer at {r['url'] or 'its address'}"
    else:
        head = "ccr is not running" + (f" (stale pid file: {r['stale']})" if r.get("stale") else "")
    lines = [head]
    rows: list[tuple[str, str]] = []
    if r["pid"] is not None:
        rows += [("pid", str(r["pid"])), ("address", r["url"] or "?")]
        if r["running"]:
            rows.append(("uptime", _duration(r["uptime_seconds"])))
    rows += [("config", r["config"]), ("version", r["version"])]
    if r.get("log"):
        rows.append(("log", r["log"]))
    if r.get("config_error"):
        rows.append(("config error", r["config_error"].splitlines()[0]))
    rows.append(("providers", ", ".join(f"{p['name']} ({', '.join(map(str, p['models'])) or 'any model'})"
                                        for p in r["providers"]) or "none"))
    routes = [f"{k}: {v}" for k, v in r["router"].items() if v]
    rows.append(("routes", routes[0] if routes else "none"))
    rows += [("", route) for route in routes[1:]]
    lines += [f"  {k + ':' if k else '':<11}{v}" for k, v in rows]
    if not r["running"] and r["state"] != "unresponsive":
        lines.append("  start it with `ccr start`")
    elif r["running"]:
        lines += [f"  {line}" for line in first_run.next_step(r["providers"], r["url"], r["config"])]
    return "\n".join(lines)
