"""D2/D3: the API never changes, nor imports, the code ccr runs. Code paths (custom router,
plugins, the Claude Code binary and its environment) are set in the config file only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import base_config

PLUGIN = '''
import os
with open(os.environ["CCR_MARKER"], "a") as marker:
    marker.write("imported\\n")
from ccr.transformers.base import Transformer

class Shout(Transformer):
    name = "shout"

    def __init__(self, a=0):
        self.a = a
'''
ROUTER = '''
import os
with open(os.environ["CCR_MARKER"], "a") as marker:
    marker.write("imported\\n")

async def route(body, config):
    return None
'''


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "imported.txt"
    monkeypatch.setenv("CCR_MARKER", str(path))
    return path


def changes(tmp_path: Path) -> list[tuple[str, dict]]:
    plugin, router = tmp_path / "pwn_plugin.py", tmp_path / "pwn_router.py"
    plugin.write_text(PLUGIN)
    router.write_text(ROUTER)
    return [
        ("CUSTOM_ROUTER_PATH", base_config(CUSTOM_ROUTER_PATH=str(router))),
        ("transformers[].path", base_config(transformers=[{"path": str(plugin)}])),
        ("CLAUDE_PATH", base_config(CLAUDE_PATH=str(tmp_path / "fake-claude"))),
        ("ClaudeCode.env", base_config(ClaudeCode={"env": {"NODE_OPTIONS": f"--require {tmp_path}/x.js"}})),
    ]


async def test_the_api_refuses_code_path_changes_and_imports_nothing(admin_server, marker, tmp_path):
    admin = await admin_server(base_config())
    before = admin.path.read_bytes()
    for field, raw in changes(tmp_path):
        status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
        assert status == 400, (field, body)
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        assert f"{field}: names code that ccr runs" in body["error"]["message"], body
        assert field in json.dumps(body["error"]["problems"])
    assert not marker.exists(), "validating a config imported a user file"
    assert admin.path.read_bytes() == before


async def test_code_paths_already_in_the_file_still_save_without_another_import(admin_server, marker, tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    raw = base_config(transformers=[{"path": str(plugin), "options": {"a": 1}}])
    raw["Providers"][0]["transformer"] = {"use": ["shout"]}
    admin = await admin_server(raw)
    assert marker.read_text().count("imported") == 1  # at start, from the file
    raw["transformers"][0]["options"] = {"a": 2}  # options are data, not code
    raw["LOG_LEVEL"] = "debug"
    status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
    assert status == 200, body
    assert marker.read_text().count("imported") == 1
    # and a plugin transformer name the running code does not know is still an error
    raw["Providers"][0]["transformer"] = {"use": ["nosuch"]}
    status, body, _ = await admin.call("POST", "/api/config", json_body=raw)
    assert status == 400 and "nosuch" in body["error"]["message"]
