"""GET/POST /api/config over HTTP: raw file out, validation, atomic writes, backups, concurrency."""

from __future__ import annotations

import asyncio
import json
import re
import threading

import json5
import pytest

from ccr.config.store import ConfigStore, backup_name
from ccr.server.keys import RUNTIME

from .conftest import provider

BACKUP = re.compile(r"^config\.json\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z(-\d+)?\.bak$")


def good(url: str = "http://127.0.0.1:9/v1/chat/completions", model: str = "gpt-test", **top) -> dict:
    return {"Providers": [provider(url, models=[model, "gpt-other"])],
            "Router": {"default": f"fake,{model}"}, **top}


async def test_get_returns_the_file_with_env_references_unresolved(admin_server, monkeypatch):
    monkeypatch.setenv("FAKE_PROVIDER_KEY", "sk-resolved-secret-value-42")
    raw = good()
    raw["Providers"][0]["api_key"] = "$FAKE_PROVIDER_KEY"
    admin = await admin_server(raw)
    status, body, _headers = await admin.call("GET", "/api/config")
    assert status == 200
    assert body["Providers"][0]["api_key"] == "$FAKE_PROVIDER_KEY"
    assert body == raw
    assert "sk-resolved-secret-value-42" not in json.dumps(body)
    # the running config really did resolve it, so the reference was kept on purpose
    assert admin.app[RUNTIME].config.providers[0].api_key == "sk-resolved-secret-value-42"


async def test_post_invalid_lists_every_problem_and_leaves_the_file(admin_server):
    admin = await admin_server(good())
    before = admin.path.read_bytes()
    bad = {"Providers": [{"name": "x", "api_base_url": "ftp://nope", "models": ["m"]},
                         {"api_base_url": "http://127.0.0.1:1/v1"}],
           "Router": {"default": "missing,model"}, "PORT": "not-a-port", "LOG_LEVEL": "loud"}
    status, body, _ = await admin.call("POST", "/api/config", json_body=bad)
    assert status == 400
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    problems = body["error"]["problems"]
    joined = "\n".join(problems)
    for needle in ("api_base_url", "Providers[1].name", "Router.default", "PORT", "LOG_LEVEL"):
        assert needle in joined, needle
    assert len(problems) >= 5
    for problem in problems:  # the message lists them all as well
        assert problem in body["error"]["message"]
    assert str(admin.home) not in json.dumps(body)
    assert admin.path.read_bytes() == before
    assert not list(admin.home.glob("*.bak"))


@pytest.mark.parametrize("payload,needle", [
    (b"", "empty"), (b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b'"text"', "JSON object")])
async def test_post_rejects_bodies_that_are_not_a_config_object(admin_server, payload, needle):
    admin = await admin_server(good())
    before = admin.path.read_bytes()
    status, body, _ = await admin.call("POST", "/api/config", data=payload,
                                       headers={"Content-Type": "application/json"})
    assert status == 400 and body["type"] == "error"
    assert needle in body["error"]["message"]
    assert admin.path.read_bytes() == before


async def test_post_writes_atomically_and_keeps_three_timestamped_backups(admin_server):
    text = '// my providers\n{Providers: [], Router: {}, /* port */ PORT: 3456,}\n'
    admin = await admin_server({}, text=text)
    admin.path.chmod(0o640)
    versions = [good(model=f"m{i}") for i in range(5)]
    for i, raw in enumerate(versions):
        raw["Providers"][0]["models"] = [f"m{i}"]
        status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
        assert status == 200, body
        assert body["success"] is True and body["message"] == "Config saved successfully"
        assert json.loads(admin.path.read_text()) == raw
    assert (admin.path.stat().st_mode & 0o777) == 0o640  # permissions kept
    backups = sorted(p.name for p in admin.home.iterdir() if p.name.endswith(".bak"))
    assert len(backups) == 3
    assert all(BACKUP.match(name) for name in backups), backups
    contents = [json5.loads((admin.home / name).read_text()) for name in backups]
    assert [c["Providers"][0]["models"] for c in contents] == [["m1"], ["m2"], ["m3"]]
    # JSON5 comments are lost from the API's save; no temp files are left behind
    assert "// my providers" not in admin.path.read_text() and "/* port */" not in admin.path.read_text()
    assert not [p for p in admin.home.iterdir() if p.name.endswith(".tmp")]


async def test_first_backup_keeps_the_commented_original(admin_server):
    text = '// keep me\n{Providers: [], Router: {}}\n'
    admin = await admin_server({}, text=text)
    status, _, _ = await admin.call("POST", "/api/config", json_body=good())
    assert status == 200
    [backup] = [p for p in admin.home.iterdir() if p.name.endswith(".bak")]
    assert backup.read_text() == text


async def test_two_concurrent_writers_never_mix(admin_server):
    admin = await admin_server(good())
    a = good(model="alpha-model")
    b = good(model="beta-model")
    b["Providers"][0]["api_base_url"] = "http://127.0.0.1:8/v1/chat/completions"
    b["Providers"][0]["headers"] = {"X-Pad": "b" * 20000}  # different sizes: a torn write would show
    for _ in range(10):
        results = await asyncio.gather(admin.call("POST", "/api/config", json_body=a),
                                       admin.call("POST", "/api/config", json_body=b))
        assert [r[0] for r in results] == [200, 200]
        on_disk = json.loads(admin.path.read_text())
        assert on_disk in (a, b)
    assert len([p for p in admin.home.iterdir() if p.name.endswith(".bak")]) == 3
    assert not [p for p in admin.home.iterdir() if p.name.endswith(".tmp")]


def test_store_under_threads_readers_always_see_a_whole_file(tmp_path):
    """Many writers in threads plus a reader polling: every read parses and is one of the writes."""
    path = tmp_path / "config.json"
    store = ConfigStore(path)
    configs = [{"n": i, "pad": str(i) * (1000 + 7000 * (i % 3))} for i in range(6)]
    store.save(configs[0])
    stop = threading.Event()
    seen: list[object] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(json.loads(path.read_text()))

    def writer(i: int) -> None:
        for _ in range(20):
            store.save(configs[i])

    poll = threading.Thread(target=reader)
    poll.start()
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    poll.join()
    assert seen and all(item in configs for item in seen)
    assert json.loads(path.read_text()) in configs
    assert len(store.backups()) == 3


def test_backup_name_follows_claude_code_router():
    from datetime import UTC, datetime

    when = datetime(2025, 9, 14, 16, 43, 10, 415000, tzinfo=UTC)
    assert backup_name("config.json", when) == "config.json.2025-09-14T16-43-10-415Z.bak"


async def test_post_validates_with_the_start_up_rules(admin_server, monkeypatch):
    """An unset $VAR, or a HOST open to the network without APIKEY, is refused as at start-up."""
    admin = await admin_server(good())
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    raw = good()
    raw["Providers"][0]["api_key"] = "$NOT_SET_ANYWHERE"
    status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
    assert status == 400 and "NOT_SET_ANYWHERE" in body["error"]["message"]
    status, body, _ = await admin.call("POST", "/api/config", json_body=good(HOST="0.0.0.0"))
    assert status == 400 and "APIKEY" in body["error"]["message"]
    status, body, _ = await admin.call("POST", "/api/config",
                                       json_body=good(HOST="0.0.0.0", APIKEY="a-long-admin-key"))
    assert status == 200


async def test_get_after_the_file_was_broken_by_hand_shows_the_running_config(admin_server):
    raw = good()
    admin = await admin_server(raw)
    status, body, headers = await admin.call("GET", "/api/config")
    assert headers["x-ccr-config-source"] == "file"
    admin.path.write_text("{ broken")
    status, body, headers = await admin.call("GET", "/api/config")
    assert status == 200 and body == raw and headers["x-ccr-config-source"] == "running"
    # the UI can then save a fixed config over the broken file
    assert (await admin.call("POST", "/api/config", json_body=raw))[0] == 200
    [backup] = [p for p in admin.home.iterdir() if p.name.endswith(".bak")]
    assert backup.read_text() == "{ broken"


async def test_a_save_that_changes_nothing_writes_nothing(admin_server):
    """Same content (comments and layout aside): no write, no backup rotated, the file untouched."""
    text = '// my comment\n{Providers: [{name: "fake", api_base_url: "http://127.0.0.1:9/v1/chat/completions",' \
           ' api_key: "sk-x", models: ["gpt-test", "gpt-other"]}], Router: {default: "fake,gpt-test"},}\n'
    admin = await admin_server({}, text=text)
    raw = json5.loads(text)
    for _ in range(3):
        status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
        assert status == 200, body
    assert admin.path.read_text() == text
    assert not [p for p in admin.home.iterdir() if p.name.endswith((".bak", ".original"))]


async def test_the_hand_written_original_survives_every_rotation(admin_server):
    text = '// keep me forever\n{Providers: [], Router: {}}\n'
    admin = await admin_server({}, text=text)
    for i in range(6):
        status, body, _ = await admin.call("POST", "/api/config", json_body=good(model=f"m{i}"))
        assert status == 200, body
    assert (admin.home / "config.json.original").read_text() == text
    assert (admin.home / "config.json.original").stat().st_mode & 0o777 == 0o600
    assert len([p for p in admin.home.iterdir() if p.name.endswith(".bak")]) == 3
    # a file ccr wrote itself is not an "original": it is not copied again
    assert (admin.home / "config.json.original").read_text() == text


@pytest.mark.parametrize("count", [0, 1, 5])
async def test_config_backups_sets_how_many_backups_stay(admin_server, count):
    admin = await admin_server(good(CONFIG_BACKUPS=count))
    for i in range(7):
        status, body, _ = await admin.call("POST", "/api/config", json_body=good(model=f"m{i}", CONFIG_BACKUPS=count))
        assert status == 200, body
    assert len([p for p in admin.home.iterdir() if p.name.endswith(".bak")]) == count


@pytest.mark.parametrize("value", [-1, 101, "many", True])
async def test_a_bad_config_backups_is_refused(admin_server, value):
    admin = await admin_server(good())
    before = admin.path.read_bytes()
    status, body, _ = await admin.call("POST", "/api/config", json_body=good(CONFIG_BACKUPS=value))
    assert status == 400
    assert any(p.startswith("CONFIG_BACKUPS") for p in body["error"]["problems"]), body
    assert admin.path.read_bytes() == before
