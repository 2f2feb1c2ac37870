"""GET /api/stats, /version and /health over HTTP."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import anthropic
import pytest
from aiohttp import web

from tests.helpers import CLAUDE

from .conftest import chat_reply, provider


def claude_says() -> str:
    out = subprocess.run([CLAUDE, "--version"], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip().splitlines()[0]


def fake_claude(folder: Path, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "claude"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


async def test_stats_per_provider_and_model(admin_server, fake_upstream):
    async def good(request: web.Request) -> web.Response:
        return web.json_response(chat_reply("ok", prompt_tokens=10, completion_tokens=4))

    async def bad(request: web.Request) -> web.Response:
        body = await request.json()
        if body["messages"][-1]["content"] == "fail":
            return web.json_response({"error": {"message": "nope"}}, status=400)
        return web.json_response(chat_reply("ok", prompt_tokens=100, completion_tokens=1))

    a = await fake_upstream(good)
    b = await fake_upstream(bad)
    admin = await admin_server({"Providers": [provider(a.url, name="alpha", models=["m1"]),
                                              provider(b.url, name="beta", models=["m2"])],
                                "Router": {"default": "alpha,m1"}})
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key="x", max_retries=0) as client:
        for _ in range(3):
            await client.messages.create(model="claude-sonnet-5", max_tokens=5,
                                         messages=[{"role": "user", "content": "hi"}])
        await client.messages.create(model="beta,m2", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        with contextlib.suppress(anthropic.BadRequestError):
            await client.messages.create(model="beta,m2", max_tokens=5,
                                         messages=[{"role": "user", "content": "fail"}])
    status, body, _ = await admin.call("GET", "/api/stats")
    assert status == 200
    rows = {(r["provider"], r["model"]): r for r in body["models"]}
    alpha, beta = rows[("alpha", "m1")], rows[("beta", "m2")]
    assert alpha["requests"] == 3 and alpha["errors"] == {}
    assert alpha["input_tokens"] == 30 and alpha["output_tokens"] == 12
    assert beta["requests"] == 2 and beta["errors"] == {"400": 1}
    assert beta["input_tokens"] == 100 and beta["output_tokens"] == 1
    for row in (alpha, beta):
        assert 0 <= row["latency_ms"]["p50"] <= row["latency_ms"]["p99"]
        assert 0 <= row["ttfb_ms"]["p50"] <= row["ttfb_ms"]["p99"] <= row["latency_ms"]["p99"]
    total = body["total"]
    assert (total["requests"], total["errors"], total["input_tokens"], total["output_tokens"]) == (5, 1, 130, 13)
    assert body["since"].endswith("Z") and body["uptime_seconds"] >= 0


@pytest.mark.claude_cli
async def test_version_with_the_real_claude_cli_from_config(admin_server):
    admin = await admin_server({"Providers": [], "Router": {}, "CLAUDE_PATH": CLAUDE})
    status, body, _ = await admin.call("GET", "/version")
    assert status == 200
    assert set(body) == {"claude_code_version", "api_version", "timestamp"}
    assert body["claude_code_version"] == claude_says()
    import ccr
    assert body["api_version"] == ccr.__version__
    status, health, _ = await admin.call("GET", "/health", auth=False)
    assert status == 200 and health["status"] == "ok"
    assert health["claude_code_available"] is True and health["claude_code_version"] == claude_says()
    assert health["version"] == ccr.__version__ and health["timestamp"].endswith("Z")


@pytest.mark.claude_cli
async def test_version_from_env_and_from_path(admin_server, monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_PATH", CLAUDE)
    admin = await admin_server({"Providers": [], "Router": {}})
    assert (await admin.call("GET", "/version"))[1]["claude_code_version"] == claude_says()

    monkeypatch.delenv("CLAUDE_PATH")
    fake_claude(tmp_path / "bin", 'echo "9.9.9 (Claude Code)"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    admin = await admin_server({"Providers": [], "Router": {}})
    assert (await admin.call("GET", "/version"))[1]["claude_code_version"] == "9.9.9 (Claude Code)"


async def test_version_is_null_when_claude_is_missing_or_broken(admin_server, monkeypatch, tmp_path):
    monkeypatch.delenv("CLAUDE_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    admin = await admin_server({"Providers": [], "Router": {}})
    status, body, _ = await admin.call("GET", "/version")
    assert status == 200 and body["claude_code_version"] is None
    status, health, _ = await admin.call("GET", "/health")
    assert health["claude_code_available"] is False and health["claude_code_version"] is None

    broken = fake_claude(tmp_path / "broken", "echo oops >&2; exit 3")
    admin = await admin_server({"Providers": [], "Router": {}, "CLAUDE_PATH": str(broken)})
    assert (await admin.call("GET", "/version"))[1]["claude_code_version"] is None
    admin = await admin_server({"Providers": [], "Router": {}, "CLAUDE_PATH": str(tmp_path / "nowhere")})
    assert (await admin.call("GET", "/version"))[1]["claude_code_version"] is None


async def test_claude_runs_once_and_is_cached(admin_server, tmp_path):
    calls = tmp_path / "calls"
    script = fake_claude(tmp_path / "bin", f'echo run >> "{calls}"; echo "1.2.3 (Claude Code)"')
    admin = await admin_server({"Providers": [], "Router": {}, "CLAUDE_PATH": str(script)})
    for _ in range(3):
        assert (await admin.call("GET", "/version"))[1]["claude_code_version"] == "1.2.3 (Claude Code)"
        assert (await admin.call("GET", "/health"))[1]["claude_code_version"] == "1.2.3 (Claude Code)"
    assert calls.read_text() == "run\n"
