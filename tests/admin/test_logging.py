"""Log files: one JSON line per request, the routing log, LOG/LOG_LEVEL, rotation, no secrets."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import anthropic
from aiohttp import web

from ccr.logs.files import LogFiles
from ccr.logs.setup import LOGGING
from tests.helpers import sse

from .conftest import chat_reply, provider

APIKEY = "ccr-admin-key-7f3a9c2e51"
UPSTREAM_KEY = "sk-upstream-secret-0123456789abcdef"


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def server_logs(log_dir: Path) -> list[Path]:
    return sorted(log_dir.glob("ccr-*.log"))


async def test_request_lines_routing_log_and_no_secrets(admin_server, fake_upstream):
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        text = body["messages"][-1]["content"]
        if text == "fail":  # like OpenAI, the provider echoes the key it was given
            return web.json_response({"error": {"message": f"Incorrect API key provided: {UPSTREAM_KEY}"}},
                                     status=401)
        if body.get("stream"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(sse(
                {"id": "c", "model": "gpt-test", "choices": [{"index": 0, "delta": {"content": "streamed"}}]},
                {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 21, "completion_tokens": 4}}))
            return response
        return web.json_response(chat_reply("plain", prompt_tokens=11, completion_tokens=3))

    up = await fake_upstream(handler)
    raw = {"Providers": [provider(up.url, models=["gpt-test"])], "Router": {"default": "fake,gpt-test"},
           "APIKEY": APIKEY}
    admin = await admin_server(raw, log=True)
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key=APIKEY, max_retries=0) as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=5,
                                     messages=[{"role": "user", "content": "hello"}])
        async with client.messages.stream(model="claude-sonnet-5", max_tokens=5,
                                          messages=[{"role": "user", "content": "stream"}]) as stream:
            await stream.get_final_message()
        try:
            await client.messages.create(model="claude-sonnet-5", max_tokens=5,
                                         messages=[{"role": "user", "content": "fail"}])
        except anthropic.APIStatusError as exc:
            assert exc.status_code == 502
    async with anthropic.AsyncAnthropic(base_url=admin.url, auth_token=APIKEY, max_retries=0) as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=5,
                                     messages=[{"role": "user", "content": "bearer"}])
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key=APIKEY + "-wrong", max_retries=0) as client:
        with contextlib.suppress(anthropic.AuthenticationError):
            await client.messages.create(model="claude-sonnet-5", max_tokens=5,
                                         messages=[{"role": "user", "content": "wrong key"}])
    admin.app[LOGGING].flush()

    [server_log] = server_logs(admin.log_dir)
    requests = [line for line in lines_of(server_log) if line["event"] == "request"]
    assert len(requests) == 4
    ok = requests[0]
    assert ok["request_id"].startswith("req_") and ok["route"] == "fake,gpt-test" and ok["reason"] == "default"
    assert ok["status"] == 200 and ok["input_tokens"] == 11 and ok["output_tokens"] == 3
    assert ok["ttfb_ms"] >= 0 and ok["duration_ms"] >= ok["ttfb_ms"] and ok["level"] == "info"
    assert ok["logger"] == "ccr.messages" and "timestamp" in ok
    streamed = requests[1]
    assert streamed["stream"] is True and streamed["input_tokens"] == 21 and streamed["output_tokens"] == 4
    assert requests[2]["status"] == 502 and requests[2]["level"] == "warning"

    routing = lines_of(admin.log_dir / "claude-code-router.log")
    assert [r["request_id"] for r in routing] == [r["request_id"] for r in requests]
    assert all(r["route"] == "fake,gpt-test" and r["reason"] == "default" for r in routing)

    for path in admin.log_dir.iterdir():
        text = path.read_text()
        for secret in (APIKEY, UPSTREAM_KEY, "0123456789abcdef", "Bearer " + APIKEY):
            assert secret not in text, f"{secret!r} in {path.name}"


async def test_log_false_writes_no_files(admin_server, fake_upstream):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(chat_reply("hi"))

    up = await fake_upstream(handler)
    admin = await admin_server({"Providers": [provider(up.url)], "Router": {"default": "fake,gpt-test"},
                                "LOG": False}, log=True)
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key="x") as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    admin.app[LOGGING].flush()
    assert not admin.log_dir.exists() or not list(admin.log_dir.iterdir())


async def test_log_level_filters_and_restart_reapplies_logging(admin_server, fake_upstream):
    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        if body["messages"][-1]["content"] == "boom":
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        return web.json_response(chat_reply("hi"))

    up = await fake_upstream(handler)
    raw = {"Providers": [provider(up.url)], "Router": {"default": "fake,gpt-test"}, "LOG_LEVEL": "warn"}
    admin = await admin_server(raw, log=True)

    async def ask(text: str) -> None:
        await admin.call("POST", "/v1/messages", json_body={
            "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": text}]})

    await ask("fine")
    await ask("boom")
    admin.app[LOGGING].flush()
    [first] = server_logs(admin.log_dir)
    statuses = [line["status"] for line in lines_of(first) if line["event"] == "request"]
    assert len(statuses) == 1 and statuses[0] >= 500  # the good request's info line was filtered out

    # LOG false through the API: nothing more is written
    assert (await admin.call("POST", "/api/config", json_body={**raw, "LOG": False}))[0] == 200
    assert (await admin.call("POST", "/api/restart"))[0] == 200
    size = first.stat().st_size
    await ask("boom")
    admin.app[LOGGING].flush()
    assert first.stat().st_size == size and server_logs(admin.log_dir) == [first]

    # and back on, at info: a new file gets the good request too
    assert (await admin.call("POST", "/api/config", json_body={**raw, "LOG_LEVEL": "info"}))[0] == 200
    assert (await admin.call("POST", "/api/restart"))[0] == 200
    await ask("fine")
    admin.app[LOGGING].flush()
    newest = server_logs(admin.log_dir)[-1]
    assert newest != first
    assert [line["status"] for line in lines_of(newest) if line["event"] == "request"] == [200]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_rotation_by_size_keeps_max_files(tmp_path):
    clock = Clock(datetime(2025, 3, 1, 12, 0, 0))
    files = LogFiles(tmp_path, max_bytes=2000, max_files=3, clock=clock)
    try:
        for i in range(100):
            clock.now += timedelta(seconds=1)
            files.server(json.dumps({"n": i, "pad": "x" * 80}) + "\n")
            if i % 10 == 9:
                files.flush()
        files.flush()
    finally:
        files.close()
    logs = sorted(tmp_path.glob("ccr-*.log"))
    assert len(logs) == 3
    for path in logs:
        assert path.stat().st_size < 2000 + 1000  # rotated once past the limit
        assert all(json.loads(line) for line in path.read_text().splitlines())
    numbers = [json.loads(line)["n"] for path in logs for line in path.read_text().splitlines()]
    assert numbers == sorted(numbers) and numbers[-1] == 99  # the newest lines are kept, in order


def test_rotation_by_day_and_routing_log_rotation(tmp_path):
    clock = Clock(datetime(2025, 3, 1, 23, 59, 58))
    files = LogFiles(tmp_path, max_bytes=10_000, max_files=3, clock=clock)
    try:
        files.server('{"day": 1}\n')
        files.routing('{"r": 1}\n')
        files.flush()
        clock.now = datetime(2025, 3, 2, 0, 0, 1)
        files.server('{"day": 2}\n')
        for i in range(200):
            files.routing(json.dumps({"r": i, "pad": "y" * 100}) + "\n")
        files.flush()
    finally:
        files.close()
    assert sorted(p.name for p in tmp_path.glob("ccr-*.log")) == ["ccr-20250301235958.log", "ccr-20250302000001.log"]
    assert (tmp_path / "ccr-20250302000001.log").read_text() == '{"day": 2}\n'
    routing = sorted(p.name for p in tmp_path.glob("claude-code-router*.log"))
    assert "claude-code-router.log" in routing and len(routing) <= 3
    assert (tmp_path / "claude-code-router.log").stat().st_size < 10_000


def test_each_start_opens_a_new_server_file(tmp_path):
    clock = Clock(datetime(2025, 3, 1, 10, 0, 0))
    for n in range(5):
        files = LogFiles(tmp_path, max_bytes=10_000, max_files=3, clock=clock)
        files.server(json.dumps({"start": n}) + "\n")
        files.close()
    names = sorted(p.name for p in tmp_path.glob("ccr-*.log"))
    assert len(names) == 3  # same second: _N suffixes; the oldest two were pruned
    assert all(name.startswith("ccr-20250301100000") for name in names)


async def test_the_admin_key_is_masked_in_the_logs_too(admin_server, fake_upstream):
    admin_key = "ccr-admin-only-key-5b8e1d0c94"

    async def echo(request: web.Request) -> web.StreamResponse:  # a provider that repeats what it got
        body = await request.json()
        return web.json_response({"error": {"message": f"bad input: {body['messages'][-1]['content']}"}},
                                 status=400)

    up = await fake_upstream(echo)
    raw = {"Providers": [provider(up.url, models=["gpt-test"])], "Router": {"default": "fake,gpt-test"},
           "APIKEY": APIKEY, "ADMIN_APIKEY": admin_key}
    admin = await admin_server(raw, log=True)
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key=APIKEY, max_retries=0) as client:
        with contextlib.suppress(anthropic.BadRequestError):
            await client.messages.create(model="claude-sonnet-5", max_tokens=5,
                                         messages=[{"role": "user", "content": f"my admin key is {admin_key}"}])
    admin.app[LOGGING].flush()
    [server_log] = server_logs(admin.log_dir)
    text = server_log.read_text()
    assert "bad input: my admin key is" in text  # the provider's error was logged...
    assert admin_key not in text                  # ...with the key masked
