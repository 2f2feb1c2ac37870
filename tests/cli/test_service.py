"""`ccr start | stop | restart | status` driven through the installed command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import urllib.request

from ccr.service_record import alive
from tests.helpers import free_port

from .conftest import ccr_argv, ccr_processes, write_config

PID_FILE = ".claude-code-router.pid"


def health(url: str) -> dict | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=5) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


async def test_start_status_double_start_stop(ccr, home):
    port = write_config(home)["PORT"]
    url = f"http://127.0.0.1:{port}"

    started = await ccr("start")
    assert started.code == 0, started
    assert url in started.out
    pid = ccr.pid()
    assert pid and alive(pid) and f"pid {pid}" in started.out
    assert health(url)["status"] == "ok"

    status = await ccr("status")
    assert status.code == 0, status
    assert status.out.startswith("ccr is running")
    for text in (str(pid), url, str(home / "config.json"), "uptime:", "version:"):
        assert text in status.out

    report = json.loads((await ccr("status", "--json")).out)
    assert report["running"] is True and report["pid"] == pid and report["port"] == port
    assert report["url"] == url and report["config"] == str(home / "config.json")
    assert report["uptime_seconds"] >= 0 and report["version"]

    again = await ccr("start")
    assert again.code == 0, again
    assert "already running" in again.out and ccr.pid() == pid
    assert ccr_processes(home) == [pid]

    stopped = await ccr("stop")
    assert stopped.code == 0, stopped
    assert f"stopped (pid {pid})" in stopped.out
    assert not alive(pid)
    assert not (home / PID_FILE).exists()
    assert health(url) is None

    after = await ccr("status")
    assert after.code == 3 and "not running" in after.out
    assert json.loads((await ccr("status", "--json")).out)["running"] is False
    assert (await ccr("stop")).out.strip() == "ccr is not running"


async def test_stale_pid_file_of_a_dead_process_is_replaced(ccr, home):
    write_config(home)
    gone = subprocess.Popen(["true"])  # noqa: ASYNC220 (a stand-in process: nothing waits on start)
    gone.wait()
    (home / PID_FILE).write_text(f"{gone.pid}\n")

    status = await ccr("status")
    assert status.code == 3, status
    assert f"process {gone.pid} is gone" in status.out

    started = await ccr("start")
    assert started.code == 0, started
    assert ccr.pid() not in (None, gone.pid) and alive(ccr.pid())


async def test_pid_file_naming_another_program_is_not_trusted_nor_killed(ccr, home):
    write_config(home)
    other = subprocess.Popen(["sleep", "300"])  # noqa: ASYNC220 (a stand-in process)
    try:
        (home / PID_FILE).write_text(f"{other.pid}\n")
        status = await ccr("status", "--json")
        report = json.loads(status.out)
        assert status.code == 3 and report["running"] is False
        assert report["stale"] == f"process {other.pid} is not ccr"

        started = await ccr("start")
        assert started.code == 0, started
        assert ccr.pid() != other.pid

        assert (await ccr("stop")).code == 0
        assert other.poll() is None, "ccr stop killed a process that is not ccr"
        (home / PID_FILE).write_text(f"{other.pid}\n")
        stale_stop = await ccr("stop")
        assert "stale pid file" in stale_stop.out and other.poll() is None
        assert not (home / PID_FILE).exists()
    finally:
        other.kill()
        other.wait()


async def test_restart_applies_a_changed_port(ccr, home):
    raw = write_config(home)
    first = await ccr("start")
    assert first.code == 0, first
    old_pid, old_url = ccr.pid(), f"http://127.0.0.1:{raw['PORT']}"

    raw["PORT"] = free_port()
    (home / "config.json").write_text(json.dumps(raw))
    restarted = await ccr("restart")
    assert restarted.code == 0, restarted
    new_url = f"http://127.0.0.1:{raw['PORT']}"
    assert f"stopped (pid {old_pid})" in restarted.out and new_url in restarted.out
    assert not alive(old_pid) and ccr.pid() != old_pid
    assert health(new_url)["status"] == "ok" and health(old_url) is None
    assert json.loads((await ccr("status", "--json")).out)["port"] == raw["PORT"]


async def test_restart_when_stopped_starts(ccr, home):
    port = write_config(home)["PORT"]
    result = await ccr("restart", "--port", str(free_port()))
    assert result.code == 0, result
    assert "stopped" not in result.out and str(port) not in result.out
    assert json.loads((await ccr("status", "--json")).out)["running"] is True


async def test_start_with_a_syntax_error_says_why(ccr, home):
    (home / "config.json").write_text('{ PORT: 3456, Providers: [ oops')
    result = await ccr("start")
    assert result.code != 0
    assert "syntax error" in result.err and "config.json" in result.err
    assert "Traceback" not in result.err + result.out
    assert not (home / PID_FILE).exists() and ccr_processes(home) == []


async def test_start_with_an_invalid_route_lists_the_problem(ccr, home):
    write_config(home, Providers=[{"name": "a", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                                   "models": ["m"]}], Router={"default": "nope,m"})
    result = await ccr("start")
    assert result.code != 0
    assert "Router.default" in result.err and "'nope' does not exist" in result.err
    assert "Traceback" not in result.err


async def test_start_on_a_port_in_use_says_so(ccr, home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        write_config(home, PORT=port)
        result = await ccr("start")
    assert result.code != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.err
    assert len(result.err.strip().splitlines()) == 1, result
    assert ccr_processes(home) == []


async def test_concurrent_starts_make_one_server(ccr, home):
    write_config(home)
    results = await asyncio.gather(*(ccr("start") for _ in range(4)))
    assert all(r.code == 0 for r in results), results
    pids = {ccr.pid()}
    assert ccr_processes(home) == list(pids)
    assert sum("already running" not in r.out for r in results) == 1
    assert all(f"pid {ccr.pid()}" in r.out for r in results)


async def test_foreground_server_is_found_and_stopped(ccr, home):
    port = write_config(home)["PORT"]
    server = await asyncio.create_subprocess_exec(*ccr_argv("start", "--foreground"),
                                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = b""
        while b"listening on" not in line:
            line = await asyncio.wait_for(server.stdout.readline(), 60)
            assert line, "the server exited"
        assert f"listening on http://127.0.0.1:{port}" in line.decode()
        assert ccr.pid() == server.pid  # the pid file is written once it listens

        refused = await ccr("start", "--foreground")
        assert refused.code == 1 and "already running" in refused.err

        report = json.loads((await ccr("status", "--json")).out)
        assert report["running"] and report["pid"] == server.pid and report["daemon"] is False

        stopped = await ccr("stop")
        assert stopped.code == 0, stopped
        assert await asyncio.wait_for(server.wait(), 60) == 0
        assert not (home / PID_FILE).exists()
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


async def test_help_version_and_one_line_errors(ccr, home):
    version = await ccr("--version")
    assert version.code == 0 and version.out.startswith("ccr ")
    helped = await ccr("--help")
    for command in ("start", "stop", "restart", "status", "code", "activate", "env", "model", "ui"):
        assert command in helped.out
        sub = await ccr(command, "--help")
        assert sub.code == 0 and sub.out.startswith("usage: ccr " + command), sub
    assert "Claude Code" in (await ccr("code", "--help")).out

    for args in (("bogus",), ("start", "--port", "x"), ("model", "set", "nowhere", "a,b")):
        result = await ccr(*args)
        assert result.code == 2, result
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err, result
    bare = await ccr()
    assert bare.code == 1 and "usage: ccr" in bare.err


async def test_a_service_that_does_not_answer_is_reported_not_trusted(ccr, home):
    write_config(home)
    assert (await ccr("start")).code == 0
    pid = ccr.pid()
    os.kill(pid, signal.SIGSTOP)  # alive, ours, but deaf
    try:
        status = await ccr("status", "--json")
        report = json.loads(status.out)
        assert status.code == 1 and report["state"] == "unresponsive" and report["pid"] == pid
        refused = await ccr("start", env={"CCR_START_TIMEOUT": "1"})
        assert refused.code == 1 and f"(pid {pid}) is running but does not answer" in refused.err
        assert ccr_processes(home) == [pid]
    finally:
        os.kill(pid, signal.SIGCONT)
    assert (await ccr("status")).code == 0


async def test_a_foreground_server_with_another_config_runs_unrecorded(ccr, home, tmp_path):
    write_config(home)
    assert (await ccr("start")).code == 0
    daemon_pid = ccr.pid()
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"PORT": free_port(), "LOG": False}))
    server = await asyncio.create_subprocess_exec(*ccr_argv("start", "--foreground", "--config", str(other)),
                                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = b""
        while b"listening on" not in line:
            line = await asyncio.wait_for(server.stdout.readline(), 60)
            assert line, (await server.stderr.read()).decode()
        assert ccr.pid() == daemon_pid  # the record still names the background service
        server.terminate()
        assert await asyncio.wait_for(server.wait(), 60) == 0
        assert "not recorded" in (await server.stderr.read()).decode()
        assert ccr.pid() == daemon_pid and (await ccr("status")).code == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
