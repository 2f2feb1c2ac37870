"""POST /api/restart: the saved config applies to new requests; running streams are left alone."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp
import anthropic
from aiohttp import web

from ccr import admin_token
from ccr.server.keys import RUNTIME
from tests.helpers import free_port, sse

from .conftest import chat_reply, provider, replying


def routed_to(url: str, name: str = "fake", model: str = "gpt-test", **top) -> dict:
    return {"Providers": [provider(url, name=name, models=[model])],
            "Router": {"default": f"{name},{model}"}, **top}


async def test_restart_applies_the_saved_config_to_new_requests(admin_server, fake_upstream):
    first = await fake_upstream(replying("from first"))
    second = await fake_upstream(replying("from second"))
    admin = await admin_server(routed_to(first.url))
    counter_before = admin.app[RUNTIME].router.counter
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key="x") as client:
        reply = await client.messages.create(model="claude-sonnet-5", max_tokens=10,
                                             messages=[{"role": "user", "content": "hi"}])
        assert reply.content[0].text == "from first"
        status, body, _ = await admin.call("POST", "/api/config", json_body=routed_to(second.url, name="other"))
        assert status == 200
        # saved but not applied yet
        reply = await client.messages.create(model="claude-sonnet-5", max_tokens=10,
                                             messages=[{"role": "user", "content": "hi"}])
        assert reply.content[0].text == "from first"
        status, body, _ = await admin.call("POST", "/api/restart")
        assert status == 200
        assert body == {"success": True, "message": "Service restart initiated", "restart": "in-process"}
        reply = await client.messages.create(model="claude-sonnet-5", max_tokens=10,
                                             messages=[{"role": "user", "content": "hi"}])
        assert reply.content[0].text == "from second"
    assert len(first.recorder.requests) == 2 and len(second.recorder.requests) == 1
    runtime = admin.app[RUNTIME]
    assert runtime.router.counter is counter_before  # caches survive the restart
    status, stats, _ = await admin.call("GET", "/api/stats")
    assert stats["total"]["requests"] == 3  # and the counters


async def test_a_stream_open_across_a_restart_finishes_on_its_own_config(admin_server, fake_upstream):
    first_sent = asyncio.Event()
    release = asyncio.Event()

    async def slow_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse({"id": "c1", "model": "gpt-test", "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": "old "}}]}, done=False))
        first_sent.set()
        await release.wait()
        await response.write(sse(
            {"id": "c1", "choices": [{"index": 0, "delta": {"content": "config"}}]},
            {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 5, "completion_tokens": 2}}))
        return response

    first = await fake_upstream(slow_stream)
    second = await fake_upstream(replying("new config"))
    admin = await admin_server(routed_to(first.url))
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key="x", max_retries=0) as client:
        async with client.messages.stream(model="claude-sonnet-5", max_tokens=10,
                                          messages=[{"role": "user", "content": "hi"}]) as stream:
            texts = []
            async for event in stream:
                if event.type == "text":
                    texts.append(event.text)
                    break
            await first_sent.wait()
            # change the route and apply it while the stream is held open by the provider
            assert (await admin.call("POST", "/api/config", json_body=routed_to(second.url, name="new")))[0] == 200
            status, body, _ = await admin.call("POST", "/api/restart")
            assert status == 200 and body["success"] is True
            fresh = await client.messages.create(model="claude-sonnet-5", max_tokens=10,
                                                 messages=[{"role": "user", "content": "again"}])
            assert fresh.content[0].text == "new config"
            release.set()
            async for event in stream:
                if event.type == "text":
                    texts.append(event.text)
            message = await stream.get_final_message()
    assert "".join(texts) == "old config"
    assert message.content[0].text == "old config" and message.stop_reason == "end_turn"
    assert len(first.recorder.requests) == 1 and len(second.recorder.requests) == 1
    assert admin.app[RUNTIME].config.providers[0].name == "new"


async def test_an_invalid_saved_file_keeps_the_running_config(admin_server, fake_upstream):
    up = await fake_upstream(replying("still here"))
    admin = await admin_server(routed_to(up.url))
    running = admin.app[RUNTIME]
    admin.path.write_text('{"Providers": [{"name": "x"}], "Router": {"default": "nope,m"}}')
    status, body, _ = await admin.call("POST", "/api/restart")
    assert status == 400 and body["type"] == "error"
    assert any("api_base_url" in p for p in body["error"]["problems"])
    assert str(admin.home) not in json.dumps(body)
    assert admin.app[RUNTIME] is running
    admin.path.write_text("{ this is not json5")
    status, body, _ = await admin.call("POST", "/api/restart")
    assert status == 400 and "syntax error" in body["error"]["message"]
    assert str(admin.home) not in body["error"]["message"]
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key="x") as client:
        reply = await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "still here"


async def test_restart_applies_api_timeout_and_proxy(admin_server, fake_upstream):
    hang = asyncio.Event()

    async def never(request: web.Request) -> web.Response:
        await hang.wait()
        return web.json_response(chat_reply("late"))

    slow = await fake_upstream(never)
    proxy = await fake_upstream(replying("via proxy"))
    admin = await admin_server(routed_to(slow.url))
    try:
        assert admin.app[RUNTIME].config.api_timeout_ms == 600_000
        raw = routed_to(slow.url, API_TIMEOUT_MS=1000)
        assert (await admin.call("POST", "/api/config", json_body=raw))[0] == 200
        assert (await admin.call("POST", "/api/restart"))[0] == 200
        status, body, _ = await admin.call("POST", "/v1/messages", json_body={
            "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        assert status == 504 and body["error"]["type"] == "timeout_error"
        assert "API_TIMEOUT_MS=1000" in body["error"]["message"]

        proxy_base = proxy.url.split("/v1/")[0]
        raw = routed_to(slow.url, PROXY_URL=proxy_base)
        assert (await admin.call("POST", "/api/config", json_body=raw))[0] == 200
        assert (await admin.call("POST", "/api/restart"))[0] == 200
        status, body, _ = await admin.call("POST", "/v1/messages", json_body={
            "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body
        assert body["content"][0]["text"] == "via proxy"
        assert len(proxy.recorder.requests) == 1
    finally:
        hang.set()


async def test_new_address_without_a_process_to_relaunch_says_so(admin_server, fake_upstream):
    up = await fake_upstream(replying("ok"))
    admin = await admin_server(routed_to(up.url, PORT=3456))
    assert (await admin.call("POST", "/api/config", json_body=routed_to(up.url, PORT=4567)))[0] == 200
    status, body, _ = await admin.call("POST", "/api/restart")
    assert status == 200 and body["success"] is True
    assert body["restart"] == "manual" and body["address"] == "http://127.0.0.1:4567"
    assert "restart ccr" in body["message"]


async def test_two_restarts_at_once_both_succeed(admin_server, fake_upstream):
    up = await fake_upstream(replying("ok"))
    admin = await admin_server(routed_to(up.url))
    results = await asyncio.gather(*(admin.call("POST", "/api/restart") for _ in range(4)))
    assert [r[0] for r in results] == [200] * 4


# ---- a real process: a new PORT makes ccr stop and say so -------------------------------------

async def _start_process(config: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccr", "start", "--foreground", "--config", str(config), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, "ccr exited before listening: " + (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        if b"listening on" in line:
            return proc


async def _post(url: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"x-api-key": admin_token.read(Path(os.environ["CCR_HOME"])) or ""}  # written at start
    async with aiohttp.ClientSession(headers=headers) as session, session.post(url + path, json=body) as resp:
        return resp.status, await resp.json()


async def test_foreground_process_exits_75_when_the_port_changes(tmp_path):
    port, new_port = free_port(), free_port()
    config = Path(os.environ["CCR_HOME"]) / "config.json"
    raw = {"Providers": [], "Router": {}, "PORT": port, "LOG": False}
    config.write_text(json.dumps(raw))
    proc = await _start_process(config)
    try:
        url = f"http://127.0.0.1:{port}"
        assert (await _post(url, "/api/config", {**raw, "PORT": new_port}))[0] == 200
        status, body = await _post(url, "/api/restart")
        assert status == 200 and body["restart"] == "process"
        assert body["address"] == f"http://127.0.0.1:{new_port}"
        code = await asyncio.wait_for(proc.wait(), 60)
        stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        assert code == 75, stderr
        assert "75" in stderr and "new address" in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_command_line_port_keeps_winning_over_an_unchanged_file(tmp_path):
    port, cli_port = free_port(), free_port()
    config = Path(os.environ["CCR_HOME"]) / "config.json"
    raw = {"Providers": [], "Router": {}, "PORT": port, "LOG": False}
    config.write_text(json.dumps(raw))
    proc = await _start_process(config, "--port", str(cli_port))
    try:
        url = f"http://127.0.0.1:{cli_port}"
        assert (await _post(url, "/api/config", {**raw, "LOG_LEVEL": "warn"}))[0] == 200
        status, body = await _post(url, "/api/restart")
        assert status == 200 and body["restart"] == "in-process"
        async with aiohttp.ClientSession() as session, session.get(url + "/health") as resp:
            assert resp.status == 200  # still serving on the command line's port
        assert proc.returncode is None
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 60)
