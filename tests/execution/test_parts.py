"""The pieces without a CLI run: settings and their env vars, the SQLite store, result parsing."""

from __future__ import annotations

import json

import pytest

from ccr.config.claude_code import load_settings, settings_problems
from ccr.execution.outcome import build_result, retryable
from ccr.execution.process import ProcessOutcome
from ccr.execution.store import TaskRecord, TaskStore, now
from tests.helpers import make_config


def test_seed_env_vars_are_defaults_and_the_config_file_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_DEFAULT_TIMEOUT", "90")
    monkeypatch.setenv("CLAUDE_MAX_RETRIES", "1")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "7")
    settings = load_settings(make_config(ClaudeCode={"rate_limit_per_minute": 30}))
    assert settings.default_timeout == 90.0 and settings.max_retries == 1
    assert settings.rate_limit_per_minute == 30
    monkeypatch.setenv("CLAUDE_MAX_RETRIES", "lots")
    assert settings_problems(make_config()) == [
        "environment variable CLAUDE_MAX_RETRIES: expected a number, got 'lots'"]


def test_default_roots_workspace_and_permission(tmp_path):
    settings = load_settings(make_config())
    home = tmp_path / "ccr-home"
    assert settings.allowed_roots == (home / "workspace",) and settings.workspace == home / "workspace"
    assert settings.permission_mode == "acceptEdits" and settings.through_ccr
    assert settings.config_dir == home / "claude-home"
    problems = settings_problems(make_config(ClaudeCode={"allowed_roots": [str(tmp_path / "a")],
                                                          "workspace": str(tmp_path / "b")}))
    assert problems == [f"ClaudeCode.workspace: {str(tmp_path / 'b')!r} is not inside any of allowed_roots"]
    sandboxed = load_settings(make_config(ClaudeCode={"permission_mode": "bypassPermissions", "is_sandbox": True}))
    assert sandboxed.permission_mode == "bypassPermissions"


async def test_store_recovery_after_a_crash(tmp_path):
    store = TaskStore(tmp_path / "tasks.sqlite3")
    stamp = now()
    rows = {"sync-running": ("sync", "running"), "batch-pending": ("batch", "pending"),
            "async-running": ("async", "running"), "async-pending": ("async", "pending"),
            "async-done": ("async", "completed")}
    for task_id, (kind, status) in rows.items():
        await store.insert(TaskRecord(task_id, kind, status, "p", {"timeout": 5}, "req_1", stamp, stamp))
    await store.close()

    reopened = TaskStore(tmp_path / "tasks.sqlite3")
    interrupted, pending = await reopened.recover(requeue=False)
    assert sorted(interrupted) == ["async-running", "sync-running"] and pending == ["async-pending"]
    statuses = {r.id: (r.status, r.error) for r in (await reopened.page(None, 10, 0))[0]}
    assert statuses["sync-running"] == ("failed", "interrupted by restart")
    assert statuses["async-running"] == ("failed", "interrupted by restart")
    assert statuses["batch-pending"] == ("failed", "interrupted by restart")  # nobody waits for it
    assert statuses["async-pending"] == ("pending", None) and statuses["async-done"] == ("completed", None)
    record = await reopened.get("async-pending")
    assert record is not None and record.options == {"timeout": 5} and record.request_id == "req_1"
    assert (await reopened.page("failed", 2, 0))[1] == 3
    await reopened.close()


async def test_store_requeues_running_async_tasks_when_configured(tmp_path):
    store = TaskStore(tmp_path / "tasks.sqlite3")
    stamp = now()
    await store.insert(TaskRecord("a", "async", "running", "p", {}, "req", stamp, stamp, started_at=stamp))
    await store.insert(TaskRecord("s", "sync", "running", "p", {}, "req", stamp, stamp))
    _, pending = await store.recover(requeue=True)
    assert pending == ["a"]
    a, s = await store.get("a"), await store.get("s")
    assert a is not None and a.status == "pending" and a.started_at is None
    assert s is not None and s.status == "failed"
    await store.close()


def _cli_result(**fields: object) -> str:
    base = {"type": "result", "subtype": "success", "is_error": False, "result": "hi", "session_id": "s1",
            "total_cost_usd": 0.01, "usage": {"input_tokens": 3, "output_tokens": 1}, "num_turns": 1,
            "api_error_status": None}
    return json.dumps({**base, **fields})


@pytest.mark.parametrize("proc, success, status, retry", [
    (ProcessOutcome(0, [_cli_result()]), True, "success", False),
    # API failures: subtype "success" but is_error and exit 1; retry only what can recover.
    (ProcessOutcome(1, [_cli_result(is_error=True, result="API Error: 529 overloaded", api_error_status=529)]),
     False, "error", True),
    (ProcessOutcome(1, [_cli_result(is_error=True, result="API Error: 400 bad", api_error_status=400)]),
     False, "error", False),
    (ProcessOutcome(1, [_cli_result(is_error=True,
                                    result="API Error: Unable to connect to API (ConnectionRefused)")]),
     False, "error", True),
    (ProcessOutcome(1, [_cli_result(is_error=True, subtype="error_max_turns",
                                    errors=["Reached maximum number of turns (1)"])]),
     False, "error", False),
    (ProcessOutcome(1, [], "error: option '--permission-mode <mode>' argument 'bogus' is invalid."),
     False, "error", False),
    (ProcessOutcome(143, [], timed_out=True), False, "timeout", True),
    (ProcessOutcome(143, [], cancelled=True), False, "cancelled", False),
])
def test_results_and_retry_decisions(proc, success, status, retry):
    result = build_result(proc, command="claude -p x", elapsed=1.0, fmt="text", timeout=30, attempts=1)
    assert (result["success"], result["status"], retryable(proc, result)) == (success, status, retry)
    if success:
        assert result["output"] == "hi" and result["session_id"] == "s1" and result["cost"] == 0.01
    else:
        assert result["error"] and result["output"] == ""


def test_error_messages_name_the_cause():
    turns = ProcessOutcome(1, [_cli_result(is_error=True, subtype="error_max_turns",
                                           errors=["Reached maximum number of turns (1)"])])
    assert build_result(turns, command="", elapsed=0, fmt="text", timeout=30, attempts=1)["error"] == \
        "Reached maximum number of turns (1)"
    flag = ProcessOutcome(1, [], "error: unknown option '--bogus'\n")
    assert build_result(flag, command="", elapsed=0, fmt="text", timeout=30, attempts=1)["error"] == \
        "error: unknown option '--bogus'"

