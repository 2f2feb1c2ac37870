"""Who may talk to ccr: the APIKEY, and without one, loopback Host and own Origin only."""

from __future__ import annotations

import json

import aiohttp
import anthropic
import pytest

from .util import raw_post

BODY = {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


async def request(url: str, method: str = "POST", path: str = "/v1/messages",
                  headers: dict | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url + path, json=BODY if method == "POST" else None,
                                   headers=headers or {}) as resp:
            raw = await resp.read()
            return resp.status, (json.loads(raw) if raw and method != "HEAD" else {})


# (id, headers, expected status, expected error type, message part)
WITH_KEY = [
    ("x-api-key", {"x-api-key": "ccr-key"}, 200, None, None),
    ("bearer", {"Authorization": "Bearer ccr-key"}, 200, None, None),
    ("both", {"x-api-key": "ccr-key", "Authorization": "Bearer ccr-key"}, 200, None, None),
    ("missing", {}, 401, "authentication_error", "APIKEY is missing"),
    ("wrong-x-api-key", {"x-api-key": "nope"}, 401, "authentication_error", "Invalid API key"),
    ("wrong-bearer", {"Authorization": "Bearer nope"}, 401, "authentication_error", "Invalid API key"),
    ("basic-scheme", {"Authorization": "Basic Y2NyLWtleQ=="}, 401, "authentication_error", "APIKEY is missing"),
]


@pytest.mark.parametrize("headers,status,kind,part", [c[1:] for c in WITH_KEY], ids=[c[0] for c in WITH_KEY])
async def test_with_apikey(proxy, headers, status, kind, part):
    pair = await proxy(APIKEY="ccr-key")
    got, body = await request(pair.ccr.url, headers=headers)
    assert got == status
    if kind:
        assert body["type"] == "error" and body["error"]["type"] == kind and part in body["error"]["message"]
        assert "ccr-key" not in json.dumps(body)


@pytest.mark.parametrize("method,path", [("GET", "/health"), ("GET", "/"), ("HEAD", "/")])
async def test_public_endpoints(proxy, method, path):
    pair = await proxy(APIKEY="ccr-key")
    status, body = await request(pair.ccr.url, method, path, {"Host": "evil.example", "Origin": "https://evil.example"})
    assert status == 200
    if path == "/health":
        assert body["status"] == "ok" and "version" in body and "uptime_seconds" in body


async def test_sdk_with_auth_token(proxy):
    """ANTHROPIC_AUTH_TOKEN in Claude Code = the SDK's auth_token = Authorization: Bearer."""
    pair = await proxy(APIKEY="ccr-key")
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, auth_token="ccr-key") as client:
        message = await client.messages.create(**BODY)
    assert message.content[0].text == "Hello"
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="wrong", max_retries=0) as client:
        with pytest.raises(anthropic.AuthenticationError):
            await client.messages.create(**BODY)


# without APIKEY: (id, headers, expected status, message part)
WITHOUT_KEY = [
    ("loopback", {}, 200, None),
    ("localhost-host", {"Host": "localhost:3456"}, 200, None),
    ("foreign-host", {"Host": "evil.example"}, 403, "Host not allowed"),
    ("rebinding-host-with-port", {"Host": "attacker.test:3456"}, 403, "Host not allowed"),
    ("foreign-origin", {"Origin": "https://evil.example"}, 403, "CORS not allowed for this origin"),
    ("null-origin", {"Origin": "null"}, 403, "CORS not allowed for this origin"),
]


@pytest.mark.parametrize("headers,status,part", [c[1:] for c in WITHOUT_KEY], ids=[c[0] for c in WITHOUT_KEY])
async def test_without_apikey(proxy, headers, status, part):
    pair = await proxy()
    got, body = await request(pair.ccr.url, headers=headers)
    assert got == status
    if part:
        assert body["error"]["type"] == "permission_error" and part in body["error"]["message"]


async def test_own_origin_is_allowed(proxy):
    pair = await proxy()
    port = pair.ccr.server.port
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        status, _ = await request(pair.ccr.url, headers={"Origin": origin})
        assert status == 200
    status, _ = await request(pair.ccr.url, headers={"Origin": f"http://127.0.0.1:{port + 1}"})
    assert status == 403


async def test_count_tokens_needs_the_key_too(proxy):
    pair = await proxy(APIKEY="ccr-key")
    status, _, _raw = await raw_post(pair.ccr.url + "/v1/messages/count_tokens", BODY)
    assert status == 401
