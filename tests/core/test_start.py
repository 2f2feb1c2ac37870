"""`ccr start --foreground`: a bad config never starts; no config starts in setup mode."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import free_port


async def run_ccr(*args: str, env: dict | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccr", "start", "--foreground", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})})


async def refused(config_text: str, tmp_path: Path, *extra: str, env: dict | None = None) -> str:
    """Start ccr on this config; it must exit non-zero without listening. Returns stderr."""
    path = tmp_path / "config.json"
    path.write_text(config_text)
    port = free_port()
    proc = await run_ccr("--config", str(path), "--port", str(port), *extra, env=env)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0
    assert b"listening" not in stdout
    with socket.socket() as s:  # and nothing listens on the port
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return stderr.decode()


PROVIDER = {"name": "p", "api_base_url": "http://127.0.0.1:9/v1/chat/completions", "api_key": "k",
            "models": ["m"]}


def config(**top) -> str:
    return json.dumps({"Providers": [PROVIDER], "Router": {"default": "p,m"}, **top})


# (id, config text, extra args, the parts the message must name)
BAD = [
    ("syntax-error", '{\n  "PORT": 3456,\n  "Providers": [,]\n}\n', (),
     ["config.json", "syntax error at line 3", '"Providers": [,]']),
    ("unknown-transformer", json.dumps({"Providers": [{**PROVIDER, "transformer": {"use": ["nosuch"]}}],
                                        "Router": {"default": "p,m"}}), (),
     ["Providers[0] (p).transformer.use[0]", "unknown transformer 'nosuch'", "known:"]),
    ("route-missing-provider", config(Router={"default": "ghost,m"}), (),
     ["Router.default", "provider 'ghost' does not exist", "providers: p"]),
    ("route-missing-model", config(Router={"default": "p,m", "think": "p,nope"}), (),
     ["Router.think", "model 'nope' is not in p's models", "add it there or fix the route"]),
    ("route-without-model", config(Router={"default": "p"}), (), ['must be written "provider,model"']),
    ("no-default", config(Router={}), (), ["Router.default: missing"]),
    ("wrong-types", config(PORT="abc", LOG="yes", API_TIMEOUT_MS=-5), (),
     ["PORT: expected a whole number", "LOG: expected true or false", "API_TIMEOUT_MS"]),
    ("providers-not-list", json.dumps({"Providers": {"name": "p"}}), (), ["Providers: expected a list"]),
    ("provider-without-url", json.dumps({"Providers": [{"name": "p", "models": ["m"]}],
                                         "Router": {"default": "p,m"}}), (),
     ["Providers[0] (p).api_base_url: missing", "full endpoint URL"]),
    ("unset-env-var", config(Providers=[{**PROVIDER, "api_key": "$CCR_TEST_UNSET_VAR"}]), (),
     ["Providers[0].api_key", "$CCR_TEST_UNSET_VAR is not set"]),
    ("exposed-without-key", config(HOST="0.0.0.0"), (), ["HOST", "set APIKEY"]),
    ("cli-host-without-key", config(), ("--host", "0.0.0.0"), ["--host 0.0.0.0", "APIKEY"]),
    ("custom-router-missing", config(CUSTOM_ROUTER_PATH="/nonexistent/router.py"), (),
     ["CUSTOM_ROUTER_PATH", "does not exist"]),
    ("all-at-once", json.dumps({"Providers": [{**PROVIDER, "transformer": {"use": ["nosuch"]}}],
                                "Router": {"default": "ghost,m"}, "LOG": "yes"}), (),
     ["unknown transformer 'nosuch'", "provider 'ghost'", "LOG: expected"]),
]


@pytest.mark.parametrize("text,extra,parts", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_config_never_starts(tmp_path, monkeypatch, text, extra, parts):
    monkeypatch.delenv("CCR_TEST_UNSET_VAR", raising=False)
    stderr = await refused(text, tmp_path, *extra)
    for part in parts:
        assert part in stderr, stderr
    assert "Traceback" not in stderr
    assert "not started" in stderr


async def wait_listening(proc: asyncio.subprocess.Process) -> str:
    lines = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, f"ccr exited: {''.join(lines)} {(await proc.stderr.read()).decode()}"
        lines.append(line)
        if "listening on" in line:
            return "".join(lines)


async def test_no_config_file_starts_in_setup_mode(tmp_path):
    home = Path(os.environ["CCR_HOME"])
    port = free_port()
    proc = await run_ccr("--port", str(port))
    try:
        out = await wait_listening(proc)
        assert "wrote a default config" in out and "setup mode" in out
        written = (home / "config.json").read_text()
        assert "Providers" in written and "//" in written  # the commented default
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/v1/messages", json={
                    "model": "claude-sonnet-5", "max_tokens": 5,
                    "messages": [{"role": "user", "content": "hi"}]}) as resp:
                body = await resp.json()
                assert resp.status == 400 and body["type"] == "error"
                message = body["error"]["message"]
                assert "no providers configured" in message and "Router.default" in message
                assert str(home) not in message and "/" not in message.replace("provider,model", "")
            async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0


async def test_good_config_starts_and_stops_on_sigterm(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("// comments are fine\n" + config(LOG=False) + "\n")
    port = free_port()
    proc = await run_ccr("--config", str(path), "--port", str(port))
    try:
        await wait_listening(proc)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                assert (await resp.json())["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0
