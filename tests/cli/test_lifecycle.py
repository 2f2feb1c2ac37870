"""The daemon's life: graceful stop with a stream in flight, relaunch on a new port, `ccr ui`."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import anthropic
from aiohttp import web

from ccr.service_record import alive
from tests.helpers import free_port

from .conftest import provider, write_config


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_stop_lets_a_running_stream_finish(ccr, home, fake_upstream):
    release = asyncio.Event()

    async def held_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_chunk({"role": "assistant", "content": "first half, "}))
        await release.wait()
        await response.write(_chunk({"content": "second half"}))
        await response.write(_chunk({}, "stop") + b"data: [DONE]\n\n")
        return response

    up = await fake_upstream(held_stream)
    port = write_config(home, Providers=[provider(up.url)], Router={"default": "fake,gpt-test"})["PORT"]
    assert (await ccr("start")).code == 0
    pid = ccr.pid()

    async with anthropic.AsyncAnthropic(base_url=f"http://127.0.0.1:{port}", api_key="x",
                                        max_retries=0) as client:
        async with client.messages.stream(model="claude-sonnet-5", max_tokens=50,
                                          messages=[{"role": "user", "content": "hi"}]) as stream:
            events = aiter(stream.text_stream)
            assert await anext(events) == "first half, "
            stopping = asyncio.create_task(ccr("stop"))
            deadline = time.monotonic() + 30
            while await _listening(port):  # the server stops accepting, the stream goes on
                assert time.monotonic() < deadline and not stopping.done()
                await asyncio.sleep(0.05)
            assert alive(pid) and not stopping.done()
            release.set()
            rest = [text async for text in events]
            message = await stream.get_final_message()
    assert "".join(rest) == "second half" and message.stop_reason == "end_turn"
    stopped = await stopping
    assert stopped.code == 0 and f"stopped (pid {pid})" in stopped.out
    assert not alive(pid)


def _post(url: str, path: str, body: dict, key: str) -> dict:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "x-api-key": key})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as resp:
        return json.loads(resp.read())


async def test_daemon_comes_back_on_a_new_port_after_an_api_restart(ccr, home):
    raw = write_config(home, APIKEY="sk-ccr-local")
    old = raw["PORT"]
    assert (await ccr("start")).code == 0
    pid = ccr.pid()

    raw["PORT"] = free_port()
    url = f"http://127.0.0.1:{old}"
    assert _post(url, "/api/config", raw, "sk-ccr-local")["success"] is True
    assert _post(url, "/api/restart", {}, "sk-ccr-local")["restart"] == "process"

    deadline = time.monotonic() + 60
    while True:
        report = json.loads((await ccr("status", "--json")).out)
        if report["running"] and report["port"] == raw["PORT"]:
            break
        assert time.monotonic() < deadline, report
        await asyncio.sleep(0.1)
    assert report["pid"] == pid  # re-executed in place: same pid, same pid file
    assert not await _listening(old)
    assert (await ccr("start")).out.startswith(f"ccr is already running at http://127.0.0.1:{raw['PORT']}")


async def test_ui_without_a_display_prints_the_address(ccr, home):
    port = write_config(home)["PORT"]
    result = await ccr("ui", env={"DISPLAY": "", "WAYLAND_DISPLAY": "", "BROWSER": ""})
    assert result.code == 0, result
    url = f"http://127.0.0.1:{port}/ui/"
    token = (home / "admin-token").read_text().strip()
    assert result.out.strip() == f"{url}#token={token}" and "started the service" in result.err
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as page:
        assert page.status == 200 and b"<html" in page.read().lower()
