"""Async tasks with the real CLI: live events, cancel, timeout kill, restart, listing, cleanup."""

from __future__ import annotations

import os
import sqlite3

import pytest

from tests.execution.conftest import exec_config, sse_events, wait_done
from tests.helpers import free_port

pytestmark = pytest.mark.claude_cli


def _gone(pid: int) -> bool:
    """True when no process `pid` runs (a zombie waiting for a reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return all(_gone(int(p)) for p in os.listdir("/proc") if p.isdigit() and _in_group(int(p), pgid))


def _in_group(pid: int, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[2]) == pgid
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return False


async def test_async_task_streams_the_cli_output_live(model, ccr_server, http):
    _, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code/async", json={"prompt": "MARK-gamma"}) as response:
        assert response.status == 202
        accepted = await response.json()
    assert accepted["status"] == "pending" and accepted["task_id"] and accepted["request_id"]
    view, events = await wait_done(http, ccr.url, accepted["task_id"])
    assert view["status"] == "completed" and view["result"]["output"] == "OUT-gamma"
    assert view["request_id"] == accepted["request_id"]
    kinds = [k for k, _ in events]
    assert "start" in kinds and "result" in kinds and kinds[-1] == "done"
    lines = [d["line"] for k, d in events if k == "output"]
    assert '"subtype":"init"' in lines[0].replace(" ", "")  # stream-json, line by line
    assert '"type":"result"' in lines[-1].replace(" ", "")
    # Once finished, the events endpoint replays the result from the store.
    async with http.get(f"{ccr.url}/api/claude-code/task/{accepted['task_id']}/events") as response:
        replay = [k async for k, _ in sse_events(response)]
    assert replay == ["status", "result", "done"]


async def test_cancel_kills_the_cli_and_its_tool_process(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url, allowed_tools=["Bash"]))
    async with http.post(f"{ccr.url}/api/claude-code/async", json={"prompt": "@@TOOLSLEEP@@ MARK-t"}) as response:
        task_id = (await response.json())["task_id"]
    await scripted.started.wait()  # the agent's Bash tool is now running a sleeper
    async with http.get(f"{ccr.url}/api/claude-code/task/{task_id}") as response:
        running = await response.json()
    assert running["status"] == "running"
    cli_pid = running["pid"]
    async with http.delete(f"{ccr.url}/api/claude-code/task/{task_id}") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "cancelling"
    view, _ = await wait_done(http, ccr.url, task_id)
    assert view["status"] == "cancelled" and view["result"]["status"] == "cancelled"
    assert _gone(cli_pid) and _group_gone(cli_pid)
    assert scripted.sleeper_pid is not None and _gone(scripted.sleeper_pid)
    async with http.delete(f"{ccr.url}/api/claude-code/task/{task_id}") as response:
        assert response.status == 409


async def test_timeout_kills_the_process_group(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code", json={
            # long enough for a CLI started on a busy machine to reach the model
            "prompt": "@@HANG@@", "options": {"timeout": 8, "max_retries": 0}}) as response:
        body = await response.json()
    result = body["result"]
    assert scripted.hung.is_set()
    assert result["success"] is False and result["status"] == "timeout"
    assert "timed out after 8 s" in result["error"]
    assert result["return_code"] in (143, -15, -9)
    assert _group_gone(result["pid"])


async def test_unknown_task_is_404(model, ccr_server, http):
    _, url = model
    ccr = await ccr_server(exec_config(url))
    for method in ("GET", "DELETE"):
        async with http.request(method, f"{ccr.url}/api/claude-code/task/nope") as response:
            assert response.status == 404
            assert (await response.json())["error"]["type"] == "not_found_error"


@pytest.mark.sqlite_only  # with PostgreSQL a stopping node hands its tasks back (tests/distributed)
@pytest.mark.parametrize("on_restart", ["fail", "requeue"])
async def test_tasks_survive_a_restart(model, fixed_port_server, http, on_restart):
    scripted, url = model
    config = exec_config(url, port=free_port(), max_concurrent=1, on_restart=on_restart)
    first = await fixed_port_server(config)
    base = f"http://127.0.0.1:{config.port}"
    async with http.post(f"{base}/api/claude-code/async", json={"prompt": "@@HANG@@ MARK-one"}) as response:
        running_id = (await response.json())["task_id"]
    async with http.post(f"{base}/api/claude-code/async", json={"prompt": "MARK-two"}) as response:
        pending_id = (await response.json())["task_id"]
    await scripted.hung.wait()
    async with http.get(f"{base}/api/tasks?status=pending") as response:
        listed = await response.json()
    assert [t["id"] for t in listed["tasks"]] == [pending_id] and listed["total"] == 1
    await first.close()  # the running CLI is killed; the store keeps both tasks

    scripted.release.set()
    await fixed_port_server(exec_config(url, port=config.port, max_concurrent=1, on_restart=on_restart))
    interrupted, _ = await wait_done(http, base, running_id)
    resumed, _ = await wait_done(http, base, pending_id)
    assert resumed["status"] == "completed" and resumed["result"]["output"] == "OUT-two"
    if on_restart == "fail":
        assert interrupted["status"] == "failed" and interrupted["error"] == "interrupted by restart"
    else:
        assert interrupted["status"] == "completed" and interrupted["result"]["output"] == "OUT-one"


@pytest.mark.sqlite_only  # reads the SQLite file itself
async def test_task_list_filters_pages_and_cleanup(model, ccr_server, http, tmp_path):
    _, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code", json={"prompt": "MARK-listed"}) as response:
        task_id = (await response.json())["task_id"]
    async with http.get(f"{ccr.url}/api/tasks?status=completed&limit=5&offset=0") as response:
        page = await response.json()
    assert page["total"] == 1 and page["limit"] == 5 and page["offset"] == 0 and page["request_id"]
    assert page["tasks"][0]["id"] == task_id and page["tasks"][0]["status"] == "completed"
    async with http.get(f"{ccr.url}/api/tasks?offset=1") as response:
        assert (await response.json())["tasks"] == []
    for query in ("status=done", "limit=0", "limit=abc", "offset=-1"):
        async with http.get(f"{ccr.url}/api/tasks?{query}") as response:
            assert response.status == 400, query

    # Nothing is 7 days old yet; after ageing the row in the store, cleanup removes it.
    async with http.post(f"{ccr.url}/api/tasks/cleanup", json={"days": 7}) as response:
        assert (await response.json())["deleted"] == 0
    with sqlite3.connect(tmp_path / "ccr-home" / "tasks.sqlite3") as db:
        db.execute("UPDATE tasks SET created_at = '2020-01-01T00:00:00.000Z'")
    async with http.post(f"{ccr.url}/api/tasks/cleanup", json={"days": 7}) as response:
        cleaned = await response.json()
    assert cleaned["deleted"] == 1 and "7 days" in cleaned["message"]
    async with http.get(f"{ccr.url}/api/claude-code/task/{task_id}") as response:
        assert response.status == 404
    async with http.post(f"{ccr.url}/api/tasks/cleanup", json={"days": -1}) as response:
        assert response.status == 400
