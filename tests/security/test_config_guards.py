"""Config applies that would weaken ccr are refused, through the API and at start-up.

D1: the address *in use* is checked on every apply (a `--host` wins over the file's HOST).
D17: a non-loopback address needs a key of at least 16 characters.
D12: an error names an environment variable, never its value.
D13: a provider header value with CR/LF is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from ccr.config.guards import MIN_EXPOSED_KEY
from tests.helpers import free_port

from .conftest import LONG_KEY, base_config

SECRET = "s3cr3t-value-do-not-show-9f2c"


def assert_refused(status: int, body: dict, *parts: str) -> None:
    assert status == 400, body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    for part in parts:
        assert part in body["error"]["message"], body


async def test_a_config_that_drops_the_key_on_a_wildcard_bind_is_refused(ccr_process):
    """Started with --host 0.0.0.0 and a key; the file's HOST is loopback. Removing the key
    through the API, or by hand and then restarting, must not leave 0.0.0.0 open."""
    ccr = await ccr_process(base_config(APIKEY=LONG_KEY), "--host", "0.0.0.0")
    before = ccr.path.read_bytes()
    status, body, _ = await ccr.call("POST", "/api/config", key=LONG_KEY, json_body=base_config())
    assert_refused(status, body, "0.0.0.0", "APIKEY")
    assert ccr.path.read_bytes() == before

    short = "k" * (MIN_EXPOSED_KEY - 1)
    status, body, _ = await ccr.call("POST", "/api/config", key=LONG_KEY, json_body=base_config(APIKEY=short))
    assert_refused(status, body, "APIKEY", f"at least {MIN_EXPOSED_KEY} characters")
    assert short not in json.dumps(body)

    ccr.path.write_text(json.dumps(base_config()))  # the key removed by hand (or by the UI, before)
    status, body, _ = await ccr.call("POST", "/api/restart", key=LONG_KEY)
    assert_refused(status, body, "running one stays", "APIKEY")
    for headers in ({}, {"Host": "127.0.0.1"}, {"Host": "localhost"}):  # the running config still holds
        status, body, _ = await ccr.call("GET", "/api/config", headers=headers)
        assert status == 401, (headers, body)
    status, body, _ = await ccr.call("GET", "/api/config", key=LONG_KEY)
    assert status == 200


async def test_a_short_key_on_a_non_loopback_host_never_starts(tmp_path):
    path = tmp_path / "config.json"
    for raw, extra in ((base_config(HOST="0.0.0.0", APIKEY="x"), ()),
                       (base_config(APIKEY="short-key"), ("--host", "0.0.0.0"))):
        path.write_text(json.dumps(raw))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ccr", "start", "--foreground", "--config", str(path),
            "--port", str(free_port()), *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 2, (out, err)
        assert f"at least {MIN_EXPOSED_KEY} characters" in err.decode()
        assert b"listening" not in out


async def test_a_long_key_on_a_non_loopback_host_is_accepted_through_the_api(admin_server):
    admin = await admin_server(base_config())
    status, body, _ = await admin.call("POST", "/api/config", json_body=base_config(HOST="0.0.0.0", APIKEY="x" * 8))
    assert_refused(status, body, f"at least {MIN_EXPOSED_KEY} characters")
    status, body, _ = await admin.call("POST", "/api/config", json_body=base_config(HOST="0.0.0.0", APIKEY=LONG_KEY))
    assert status == 200, body


async def test_errors_name_the_variable_not_its_value(admin_server, monkeypatch, tmp_path):
    monkeypatch.setenv("SOME_SECRET_VAR", SECRET)
    admin = await admin_server(base_config())
    for raw in (base_config(LOG_LEVEL="$SOME_SECRET_VAR"), base_config(LOG_LEVEL="${SOME_SECRET_VAR}"),
                base_config(PORT="$SOME_SECRET_VAR"), base_config(Router={"default": "$SOME_SECRET_VAR"})):
        status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
        assert status == 400, body
        assert SECRET not in json.dumps(body)
        assert "$SOME_SECRET_VAR" in body["error"]["message"], body

    admin.path.write_text(json.dumps(base_config(LOG_LEVEL="$SOME_SECRET_VAR")))
    status, body, _ = await admin.call("POST", "/api/restart")
    assert status == 400 and SECRET not in json.dumps(body) and "$SOME_SECRET_VAR" in json.dumps(body)

    path = tmp_path / "bad.json"
    path.write_text(json.dumps(base_config(LOG_LEVEL="$SOME_SECRET_VAR")))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccr", "start", "--foreground", "--config", str(path), "--port", str(free_port()),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and SECRET.encode() not in err + out and b"$SOME_SECRET_VAR" in err


async def test_header_values_with_line_breaks_are_refused(admin_server, monkeypatch):
    admin = await admin_server(base_config())
    before = admin.path.read_bytes()
    monkeypatch.setenv("HEADER_WITH_CRLF", "ok\r\nX-Injected: 1")
    for value in ("a\r\nX-Injected: 1", "a\nb", "a\rb", "$HEADER_WITH_CRLF"):
        raw = base_config()
        raw["Providers"][0]["headers"] = {"X-Team": value}
        status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
        assert_refused(status, body, "Providers[0].headers.X-Team", "line break")
    raw = base_config()
    raw["Providers"][0]["headers"] = {"Bad Name": "v"}
    status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
    assert_refused(status, body, "not a valid header name")
    assert admin.path.read_bytes() == before
    # and nothing of that reaches a running server: requests still work on the old config
    status, body, _ = await admin.call("GET", "/health")
    assert status == 200
