"""D2/D3/D4: the management and execution API take an admin credential distinct from the key
Claude Code clients send, and with no key at all, the local admin token of $CCR_HOME."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import anthropic
from aiohttp import web

from ccr import admin_token

from .conftest import LONG_KEY

ADMIN_KEY = "admin-key-0123456789abcdef-xyz"
# management and execution endpoints (method, path, body)
MANAGEMENT = [
    ("GET", "/api/config", None),
    ("POST", "/api/config", "config"),
    ("POST", "/api/restart", None),
    ("GET", "/api/logs/files", None),
    ("GET", "/api/logs", None),
    ("DELETE", "/api/logs", None),
    ("GET", "/api/stats", None),
    ("GET", "/api/tasks", None),
    ("POST", "/api/claude-code", {"prompt": "hi"}),
    ("POST", "/api/claude-code/async", {"prompt": "hi"}),
    ("GET", "/api/transformers", None),
]


def routed(url: str, **top: object) -> dict:
    return {"Providers": [{"name": "fake", "api_base_url": url, "api_key": "sk-upstream",
                           "models": ["gpt-test"]}],
            "Router": {"default": "fake,gpt-test"}, "LOG": False, **top}


def reply(request: web.Request) -> web.Response:
    return web.json_response({"id": "c1", "object": "chat.completion", "model": "gpt-test",
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"},
                                           "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 3, "completion_tokens": 1}})


async def chat(url: str, key: str) -> str:
    async with anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0) as client:
        message = await client.messages.create(model="claude-sonnet-5", max_tokens=10,
                                               messages=[{"role": "user", "content": "hi"}])
    return message.content[0].text  # type: ignore[union-attr]


async def test_the_client_key_is_not_enough_once_admin_apikey_differs(admin_server, fake_upstream):
    async def handler(request: web.Request) -> web.Response:
        return reply(request)

    upstream = await fake_upstream(handler)
    raw = routed(upstream.url, APIKEY=LONG_KEY, ADMIN_APIKEY=ADMIN_KEY)
    admin = await admin_server(raw)
    assert await chat(admin.url, LONG_KEY) == "hello"  # model calls: the client key works
    before = admin.path.read_bytes()
    for method, path, body in MANAGEMENT:
        sent = raw if body == "config" else body
        for headers in ({"x-api-key": LONG_KEY}, {"Authorization": f"Bearer {LONG_KEY}"}, {}):
            status, answer, _ = await admin.call(method, path, json_body=sent, auth=False, headers=headers)
            assert status == 401, (method, path, headers, answer)
            assert answer["type"] == "error" and answer["error"]["type"] == "authentication_error"
            assert LONG_KEY not in json.dumps(answer) and ADMIN_KEY not in json.dumps(answer)
    assert admin.path.read_bytes() == before
    for method, path, body in MANAGEMENT[:3] + MANAGEMENT[6:8]:
        sent = raw if body == "config" else body
        status, answer, _ = await admin.call(method, path, json_body=sent, auth=False,
                                             headers={"x-api-key": ADMIN_KEY})
        assert status == 200, (method, path, answer)
    assert await chat(admin.url, ADMIN_KEY) == "hello"  # the admin may call models too


async def test_admin_apikey_defaults_to_apikey(admin_server):
    admin = await admin_server(routed("http://127.0.0.1:9/v1/chat/completions", APIKEY=LONG_KEY))
    status, _, _ = await admin.call("GET", "/api/config", auth=False, headers={"x-api-key": LONG_KEY})
    assert status == 200


async def test_without_any_key_management_needs_the_local_token_and_v1_stays_open(admin_server, fake_upstream):
    async def handler(request: web.Request) -> web.Response:
        return reply(request)

    upstream = await fake_upstream(handler)
    raw = routed(upstream.url)
    admin = await admin_server(raw)
    home = Path(os.environ["CCR_HOME"])
    token = admin_token.read(home)
    assert token and len(token) >= 40 and "ccr-local" not in token
    info = (home / admin_token.FILE_NAME).stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.getuid()
    assert await chat(admin.url, "anything") == "hello"  # /v1/* stays open on loopback
    for method, path, body in MANAGEMENT:
        sent = raw if body == "config" else body
        for key in (None, "ccr-local", LONG_KEY):
            headers = {"x-api-key": key} if key else {}
            status, answer, _ = await admin.call(method, path, json_body=sent, auth=False, headers=headers)
            assert status == 401, (method, path, key, answer)
            assert token not in json.dumps(answer)
    status, _, _ = await admin.call("GET", "/api/config", auth=False, headers={"x-api-key": token})
    assert status == 200
    status, _, _ = await admin.call("GET", "/api/config", auth=False,
                                    headers={"Authorization": f"Bearer {token}"})
    assert status == 200


def test_a_token_file_another_user_could_read_or_plant_is_replaced(tmp_path):
    home = tmp_path / "home"
    first = admin_token.ensure(home)
    assert admin_token.ensure(home) == first  # kept across starts
    path = home / admin_token.FILE_NAME
    path.chmod(0o644)
    assert admin_token.read(home) is None
    second = admin_token.ensure(home)
    assert second != first and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_text("x" * 43)
    assert admin_token.read(home) is None
    assert admin_token.ensure(home) not in (first, second)
    assert not path.is_symlink() and (tmp_path / "elsewhere").read_text() == "x" * 43


def test_tokens_are_random(tmp_path):
    assert admin_token.ensure(tmp_path / "a") != admin_token.ensure(tmp_path / "b")
