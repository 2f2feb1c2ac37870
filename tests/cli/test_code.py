"""`ccr code` with the real Claude Code CLI against a fake OpenAI upstream, and `ccr activate`."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers import CLAUDE

from .conftest import ccr_argv, ccr_processes, provider, write_config

REPLY = "pong from the fake upstream"


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


async def openai_reply(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if not body.get("stream"):
        return web.json_response({
            "id": "c1", "object": "chat.completion", "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_chunk({"role": "assistant", "content": REPLY}))
    await response.write(_chunk({}, "stop"))
    usage = {"id": "c1", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
    await response.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
    return response


def claude_env(tmp_path: Path) -> dict[str, str]:
    return {"CLAUDE_PATH": CLAUDE, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_MAX_RETRIES": "1", "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config")}


def prompts(recorder) -> str:
    return json.dumps(recorder.requests)


@pytest.mark.claude_cli
async def test_concurrent_code_runs_start_one_server_and_reach_the_upstream(ccr, home, fake_upstream, tmp_path):
    up = await fake_upstream(openai_reply)
    write_config(home, Providers=[provider(up.url)], Router={"default": "fake,gpt-test"})
    env = claude_env(tmp_path)

    runs = await asyncio.gather(*(
        ccr("code", "-p", f"say the word marker-{i}", "--output-format", "json", env=env)
        for i in (1, 2)))
    for run in runs:
        assert run.code == 0, run
        result = json.loads(run.out)
        assert result["is_error"] is False and result["result"] == REPLY
    sent = prompts(up.recorder)
    assert "say the word marker-1" in sent and "say the word marker-2" in sent  # the positional prompt
    assert all(body["model"] == "gpt-test" for body in up.recorder.requests)
    assert sum("started the service" in run.err for run in runs) == 1
    assert len(ccr_processes(home)) == 1, "two concurrent `ccr code` runs started two servers"
    assert (await ccr("status")).code == 0  # left running for the next run, until `ccr stop`


@pytest.mark.claude_cli
async def test_code_never_stops_a_service_it_did_not_start(ccr, home, fake_upstream, tmp_path):
    up = await fake_upstream(openai_reply)
    write_config(home, Providers=[provider(up.url)], Router={"default": "fake,gpt-test"})
    assert (await ccr("start")).code == 0
    pid = ccr.pid()
    env = claude_env(tmp_path)

    done = await ccr("code", "-p", "hello there", "--output-format", "json", env=env)
    assert done.code == 0, done
    assert json.loads(done.out)["result"] == REPLY and "started the service" not in done.err
    version = await ccr("code", "--version", env=env)  # flags alone pass through too
    assert version.code == 0 and "Claude Code" in version.out
    refused = await ccr("code", "-p", "hi", "--permission-mode", "bogus", env=env)
    assert refused.code == 1 and "bogus" in refused.err  # Claude Code's own exit status and message

    status = json.loads((await ccr("status", "--json")).out)
    assert status["running"] and status["pid"] == pid


def fake_claude(tmp_path: Path) -> Path:
    """A stand-in for Claude Code that records what it was given (argv, env, stdin)."""
    script = tmp_path / "claude-recorder"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {tmp_path}/args\nenv > {tmp_path}/env\n"
                      f"cat > {tmp_path}/stdin\nexit 7\n")
    script.chmod(0o755)
    return script


def recorded_env(tmp_path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines() if "=" in line)


async def test_code_environment_arguments_and_exit_status(ccr, home, tmp_path):
    port = write_config(home, APIKEY="sk-ccr-local", API_TIMEOUT_MS=123000,
                        CLAUDE_PATH=str(fake_claude(tmp_path)))["PORT"]
    proc = await asyncio.create_subprocess_exec(
        *ccr_argv("code", "-p", "two words", "--model", "x"), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "ANTHROPIC_API_KEY": "sk-ant-real", "CLAUDE_CODE_USE_BEDROCK": "1"})
    await proc.communicate(b"piped context")
    assert proc.returncode == 7  # Claude Code's exit status, unchanged
    assert (tmp_path / "args").read_text().splitlines() == ["-p", "two words", "--model", "x"]
    assert (tmp_path / "stdin").read_text() == "piped context"  # the terminal/stdin passes through
    env = recorded_env(tmp_path)
    assert env["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}"
    assert env["ANTHROPIC_AUTH_TOKEN"] == "sk-ccr-local"
    assert env["API_TIMEOUT_MS"] == "123000"
    assert env["NO_PROXY"] == "127.0.0.1"
    assert env["DISABLE_TELEMETRY"] == "true" and env["DISABLE_COST_WARNINGS"] == "true"
    assert "ANTHROPIC_API_KEY" not in env and "CLAUDE_CODE_USE_BEDROCK" not in env
    assert "CI" not in env or os.environ.get("CI")
    onboarded = json.loads((Path(os.environ["HOME"]) / ".claude.json").read_text())
    assert onboarded["hasCompletedOnboarding"] is True  # no login screen on a first `ccr code`


async def test_code_keeps_an_existing_claude_json(ccr, home, tmp_path):
    write_config(home, CLAUDE_PATH=str(fake_claude(tmp_path)))
    mine = tmp_path / "claude-config"
    mine.mkdir()
    (mine / ".claude.json").write_text('{"theme": "dark"}')
    result = await ccr("code", "-p", "hi", env={"CLAUDE_CONFIG_DIR": str(mine)})
    assert result.code == 7, result
    assert (mine / ".claude.json").read_text() == '{"theme": "dark"}'


async def test_non_interactive_mode_closes_stdin(ccr, home, tmp_path):
    write_config(home, NON_INTERACTIVE_MODE=True, CLAUDE_PATH=str(fake_claude(tmp_path)))
    proc = await asyncio.create_subprocess_exec(*ccr_argv("code", "-p", "hi"), stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    await proc.communicate(b"this must not reach Claude Code")
    assert proc.returncode == 7
    assert (tmp_path / "stdin").read_text() == ""
    env = recorded_env(tmp_path)
    assert (env["CI"], env["FORCE_COLOR"], env["NODE_NO_READLINE"], env["TERM"]) == ("true", "0", "1", "dumb")
    assert env["ANTHROPIC_AUTH_TOKEN"] == "test"


async def test_code_without_claude_says_how_to_install_and_starts_nothing(ccr, home):
    write_config(home)
    result = await ccr("code", "-p", "hi", env={"CLAUDE_PATH": "/nonexistent/claude"})
    assert result.code == 1
    assert result.err.count("\n") == 1 and "CLAUDE_PATH" in result.err and "npm install" in result.err
    assert ccr_processes(home) == []


async def test_activate_prints_exports_for_eval(ccr, home):
    port = write_config(home, APIKEY="sk-ccr-local")["PORT"]
    activate = await ccr("activate")
    assert activate.code == 0, activate
    assert f'export ANTHROPIC_BASE_URL="http://127.0.0.1:{port}"' in activate.out.splitlines()
    assert 'export ANTHROPIC_AUTH_TOKEN="sk-ccr-local"' in activate.out.splitlines()
    assert (await ccr("env")).out == activate.out

    script = f'eval "$({shlex.join(ccr_argv("activate"))})"; ' \
             'printf "%s|%s|%s|%s" "$ANTHROPIC_BASE_URL" "$ANTHROPIC_AUTH_TOKEN" "$API_TIMEOUT_MS" ' \
             '"${ANTHROPIC_API_KEY-unset}"'
    shell = await asyncio.to_thread(subprocess.run, ["bash", "-c", script], capture_output=True, text=True,
                                    timeout=60, env={**os.environ, "ANTHROPIC_API_KEY": "sk-ant-real"})
    assert shell.stdout == f"http://127.0.0.1:{port}|sk-ccr-local|600000|unset", shell.stderr


async def test_activate_quotes_values_a_shell_would_expand(ccr, home):
    write_config(home, APIKEY='k$x"`y`!\\z')
    script = f'eval "$({shlex.join(ccr_argv("activate"))})"; printf "%s" "$ANTHROPIC_AUTH_TOKEN"'
    shell = await asyncio.to_thread(subprocess.run, ["bash", "-c", script], capture_output=True, text=True,
                                    timeout=60)
    assert shell.stdout == 'k$x"`y`!\\z', shell.stderr
