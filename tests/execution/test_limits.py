"""Rate limit, concurrency and queue limits, retries, and prompts that cannot travel in argv."""

from __future__ import annotations

import pytest

from tests.execution.conftest import exec_config, wait_done

pytestmark = pytest.mark.claude_cli


async def test_rate_limit_answers_429_with_retry_after(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url, rate_limit_per_minute=1))
    async with http.post(f"{ccr.url}/api/claude-code", json={"prompt": "MARK-r1"}) as response:
        assert response.status == 200
    async with http.post(f"{ccr.url}/api/claude-code/async", json={"prompt": "MARK-r2"}) as response:
        assert response.status == 429
        body = await response.json()
        retry_after = int(response.headers["retry-after"])
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "1 Claude Code runs per minute" in body["error"]["message"]
    assert 1 <= retry_after <= 60
    async with http.post(f"{ccr.url}/api/claude-code/batch",
                         json={"tasks": [{"prompt": "a"}, {"prompt": "b"}]}) as response:
        assert response.status == 400  # can never fit in one minute: not a 429 to retry
    assert len([t for t in scripted.texts if "MARK-r" in t]) == 1


async def test_concurrency_and_queue_limits(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url, max_concurrent=1, max_queue=0))
    async with http.post(f"{ccr.url}/api/claude-code/async", json={"prompt": "@@HANG@@"}) as response:
        busy_id = (await response.json())["task_id"]
    await scripted.hung.wait()
    async with http.post(f"{ccr.url}/api/claude-code", json={"prompt": "MARK-q"}) as response:
        assert response.status == 429
        assert response.headers["retry-after"]
        message = (await response.json())["error"]["message"]
    assert "1 running (ClaudeCode.max_concurrent=1)" in message and "max_queue=0" in message
    async with http.delete(f"{ccr.url}/api/claude-code/task/{busy_id}") as response:
        assert response.status == 200
    view, _ = await wait_done(http, ccr.url, busy_id)
    assert view["status"] == "cancelled"
    async with http.post(f"{ccr.url}/api/claude-code", json={"prompt": "MARK-after"}) as response:
        assert (await response.json())["result"]["output"] == "OUT-after"  # the slot is free again


async def test_a_pending_task_can_be_cancelled_before_it_starts(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url, max_concurrent=1))
    async with http.post(f"{ccr.url}/api/claude-code/async", json={"prompt": "@@HANG@@"}) as response:
        busy_id = (await response.json())["task_id"]
    async with http.post(f"{ccr.url}/api/claude-code/async", json={"prompt": "MARK-waiting"}) as response:
        waiting_id = (await response.json())["task_id"]
    await scripted.hung.wait()
    async with http.delete(f"{ccr.url}/api/claude-code/task/{waiting_id}") as response:
        assert response.status == 200
    view, _ = await wait_done(http, ccr.url, waiting_id)
    assert view["status"] == "cancelled" and view["started_at"] is None
    async with http.delete(f"{ccr.url}/api/claude-code/task/{busy_id}") as response:
        assert response.status == 200
    await wait_done(http, ccr.url, busy_id)
    assert not any("MARK-waiting" in t for t in scripted.texts)


async def test_api_errors_are_retried_with_backoff(model, ccr_server, http):
    _scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code/async", json={
            "prompt": "@@FAIL500-ONCE@@ MARK-retry", "options": {"max_retries": 2}}) as response:
        task_id = (await response.json())["task_id"]
    view, events = await wait_done(http, ccr.url, task_id)
    assert view["status"] == "completed" and view["attempts"] == 2
    assert view["result"]["output"] == "OUT-retry"
    retries = [d for k, d in events if k == "retry"]
    assert len(retries) == 1 and retries[0]["attempt"] == 1 and "500" in retries[0]["error"]
    assert [d["attempt"] for k, d in events if k == "start"] == [1, 2]


async def test_long_prompt_and_dash_prompt_go_through_stdin(model, ccr_server, http):
    _scripted, url = model
    ccr = await ccr_server(exec_config(url))
    prompt = "x" * 150_000 + " MARK-long"  # longer than Linux allows for one argument
    async with http.post(f"{ccr.url}/api/claude-code", json={"prompt": prompt}) as response:
        result = (await response.json())["result"]
    assert result["success"] and result["output"] == "OUT-long"
    assert "150010 bytes on stdin" in result["command"] and "xxxx" not in result["command"]
    async with http.post(f"{ccr.url}/api/claude-code", json={"prompt": "--help MARK-dash"}) as response:
        result = (await response.json())["result"]
    assert result["success"] and result["output"] == "OUT-dash"  # a prompt, not a flag
