"""The request inspector: bounded in count and bytes, redacted when read, cleared on demand,
and its API (GET/DELETE /api/inspector)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from ccr.config.extras import InspectorSettings
from ccr.server.api.inspector import INSPECTOR
from ccr.server.inspector import REDACTED, Inspector, redact_text

from .conftest import provider

KEY = "sk-upstream-secret-0123456789abcdef"


@dataclass
class Attempt:
    provider: str = "fake"
    model: str = "gpt-test"
    status: int | None = 200
    error: str | None = None


@dataclass
class Record:
    """The fields of the pipeline's RequestRecord that the inspector reads."""

    request_id: str = "req_1"
    started_at: float = 1764740000.0
    front: str = "anthropic"
    stream: bool = False
    route_reason: str = "default"
    provider: str = "fake"
    model: str = "gpt-test"
    status: int = 200
    error: str | None = None
    latency_ms: float = 12.5
    ttfb_ms: float | None = 3.0
    input_tokens: int = 10
    output_tokens: int = 2
    fallback: bool = False
    task_id: str | None = None
    attempts: list[Attempt] = field(default_factory=lambda: [Attempt()])


@dataclass
class Exchange:
    record: Record
    client_body: bytes | None = None
    provider_body: bytes | None = None
    reply: bytes | None = None


ON = InspectorSettings(enabled=True, max_requests=3, max_bytes=64 * 1024)


def exchange(n: int, text: str = "hi") -> Exchange:
    client = json.dumps({"model": "claude-sonnet-5", "messages": [{"role": "user", "content": text}]}).encode()
    sent = json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": text}]}).encode()
    return Exchange(Record(request_id=f"req_{n}"), client, sent, b'{"content": "pong"}')


def test_off_keeps_nothing():
    inspector = Inspector()
    inspector.observe(exchange(1), InspectorSettings(), [KEY])
    assert inspector.summaries() == [] and inspector.size == 0


def test_keeps_the_last_n_newest_first_and_forgets_on_clear():
    inspector = Inspector()
    for n in range(5):
        inspector.observe(exchange(n), ON, [KEY])
    assert [s["request_id"] for s in inspector.summaries()] == ["req_4", "req_3", "req_2"]
    assert inspector.entry(inspector.summaries()[-1]["id"])["request_id"] == "req_2"
    assert inspector.entry(1) is None                      # dropped
    assert inspector.clear() == 3
    assert inspector.summaries() == [] and inspector.size == 0


def test_bytes_are_bounded_and_big_bodies_cut():
    inspector = Inspector()
    for n in range(3):
        inspector.observe(exchange(n, "x" * 50_000), ON, [])
    assert inspector.size <= ON.max_bytes
    newest = inspector.summaries()[0]
    assert newest["bytes"] <= ON.max_bytes
    assert inspector.entry(newest["id"])["truncated"] is True


def test_secrets_are_redacted_when_read():
    inspector = Inspector()
    text = f"my key is {KEY}; Bearer abcdefghijkl0123; sk-live-abcdefghijklmnop"
    ex = exchange(1, text)
    ex.client_body = json.dumps({"messages": [{"role": "user", "content": text}], "api_key": "plain-secret",
                                 "metadata": {"authorization": "Basic xyz"}, "max_tokens": 50}).encode()
    ex.record.attempts = [Attempt(status=None, error=f"refused key {KEY}")]
    inspector.observe(ex, ON, [KEY])
    entry = inspector.entry(inspector.summaries()[0]["id"])
    everything = json.dumps(entry)
    for secret in (KEY, "abcdefghijkl0123", "sk-live-abcdefghijklmnop", "plain-secret", "Basic xyz"):
        assert secret not in everything, secret
    client = json.loads(entry["client_body"])
    assert client["api_key"] == REDACTED and client["metadata"]["authorization"] == REDACTED
    assert client["max_tokens"] == 50                      # numbers with "token" in the name stay
    assert "my key is [redacted]" in client["messages"][0]["content"]
    assert entry["attempts"][0]["error"] == "refused key [redacted]"
    assert entry["provider"] == "fake" and json.loads(entry["provider_body"])["model"] == "gpt-test"


def test_redact_text_leaves_non_json_bodies_as_text():
    sse = "event: message_start\ndata: {\"x\": \"Bearer abcdefghijkl0123\"}\n\n"
    assert redact_text(sse) == "event: message_start\ndata: {\"x\": \"Bearer [redacted]\"}\n\n"


def config(url: str, **top: object) -> dict:
    return {"LOG": False, "Providers": [provider(url)], "Router": {"default": "fake,gpt-test"}, **top}


async def test_the_api_lists_reads_and_clears(admin_server):
    admin = await admin_server(config("http://127.0.0.1:9/v1/chat/completions", INSPECTOR=True))
    admin.app[INSPECTOR].observe(exchange(1, f"key {KEY}"), ON, [KEY])
    status, listing, _ = await admin.call("GET", "/api/inspector")
    assert status == 200 and listing["enabled"] is True and len(listing["entries"]) == 1
    status, entry, _ = await admin.call("GET", f"/api/inspector/{listing['entries'][0]['id']}")
    assert status == 200 and KEY not in json.dumps(entry) and "key [redacted]" in entry["client_body"]
    status, cleared, _ = await admin.call("DELETE", "/api/inspector")
    assert status == 200 and cleared == {"cleared": 1}


@pytest.mark.parametrize("entry", ["999", "abc", "-1"])
async def test_an_unknown_entry_is_a_404(admin_server, entry):
    admin = await admin_server(config("http://127.0.0.1:9/v1/chat/completions", INSPECTOR=True))
    status, body, _ = await admin.call("GET", f"/api/inspector/{entry}")
    assert status == 404 and body["type"] == "error" and body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("top,needle", [({"INSPECTOR": "yes"}, "INSPECTOR"),
                                        ({"INSPECTOR_MAX_REQUESTS": 0}, "INSPECTOR_MAX_REQUESTS"),
                                        ({"INSPECTOR_MAX_BYTES": 10}, "INSPECTOR_MAX_BYTES")])
async def test_bad_inspector_settings_are_refused(admin_server, top, needle):
    url = "http://127.0.0.1:9/v1/chat/completions"
    admin = await admin_server(config(url))
    status, body, _ = await admin.call("POST", "/api/config", json_body=config(url, **top))
    assert status == 400 and any(p.startswith(needle) for p in body["error"]["problems"]), body
