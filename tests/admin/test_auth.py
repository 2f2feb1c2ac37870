"""Every management endpoint with auth on (APIKEY) and off (loopback and own origin only)."""

from __future__ import annotations

import json

import pytest

KEY = "admin-key-for-tests-5b1e"
BASE = {"Providers": [], "Router": {}}

ENDPOINTS = [
    ("GET", "/api/config", None),
    ("POST", "/api/config", "config"),
    ("POST", "/api/restart", None),
    ("GET", "/api/logs/files", None),
    ("GET", "/api/logs?file=ccr-1.log", None),
    ("DELETE", "/api/logs?file=ccr-1.log", None),
    ("DELETE", "/api/logs", None),
    ("GET", "/api/stats", None),
    ("GET", "/version", None),
]


async def prepared(admin_server, raw):
    admin = await admin_server(raw)
    admin.log_dir.mkdir(exist_ok=True)
    (admin.log_dir / "ccr-1.log").write_text('{"event": "x"}\n')
    return admin


def body_for(kind, raw):
    return raw if kind == "config" else None


@pytest.mark.parametrize("method,path,kind", ENDPOINTS)
async def test_with_apikey_the_key_is_required(admin_server, method, path, kind):
    raw = {**BASE, "APIKEY": KEY}
    admin = await prepared(admin_server, raw)
    before = admin.path.read_bytes()
    for headers in ({}, {"x-api-key": KEY + "x"}, {"Authorization": "Bearer wrong-key"}):
        status, body, _ = await admin.call(method, path, json_body=body_for(kind, raw), auth=False,
                                           headers=headers)
        assert status == 401, (headers, body)
        assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
        assert KEY not in json.dumps(body)
    assert admin.path.read_bytes() == before
    assert (admin.log_dir / "ccr-1.log").read_text() != ""  # nothing cleared without the key
    for headers in ({"x-api-key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        status, body, _ = await admin.call(method, path, json_body=body_for(kind, raw), auth=False,
                                           headers=headers)
        assert status == 200, (headers, body)


@pytest.mark.parametrize("method,path,kind", ENDPOINTS)
async def test_without_apikey_the_local_admin_token_from_loopback_and_own_origin(admin_server, method, path, kind):
    admin = await prepared(admin_server, BASE)
    token = admin.credential
    assert token and (admin.home / "admin-token").stat().st_mode & 0o777 == 0o600
    port = admin.url.rsplit(":", 1)[1]
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "http://127.0.0.1:1"},
                    {"Host": "evil.example"}, {"Host": f"rebind.example:{port}"}):
        status, body, _ = await admin.call(method, path, json_body=body_for(kind, BASE), headers=headers)
        assert status == 403, (headers, body)
        assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    for headers in ({}, {"x-api-key": "ccradm_" + "x" * 43}, {"Origin": f"http://127.0.0.1:{port}"}):
        status, body, _ = await admin.call(method, path, json_body=body_for(kind, BASE), auth=False,
                                           headers=headers)
        assert status == 401, (headers, body)
        assert "admin token" in body["error"]["message"] and token not in json.dumps(body)
    assert (admin.log_dir / "ccr-1.log").read_text() != ""
    for headers in ({}, {"Origin": f"http://127.0.0.1:{port}"}, {"Origin": f"http://localhost:{port}"}):
        status, body, _ = await admin.call(method, path, json_body=body_for(kind, BASE), headers=headers)
        assert status == 200, (headers, body)
    status, body, _ = await admin.call(method, path, json_body=body_for(kind, BASE), auth=False,
                                       headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body


@pytest.mark.parametrize("apikey", [None, KEY])
async def test_health_is_public(admin_server, apikey):
    raw = {**BASE, **({"APIKEY": apikey} if apikey else {})}
    admin = await admin_server(raw)
    status, body, _ = await admin.call("GET", "/health", auth=False)
    assert status == 200 and body["status"] == "ok"
    assert set(body) >= {"status", "version", "timestamp", "claude_code_available", "claude_code_version"}
    assert KEY not in json.dumps(body)
