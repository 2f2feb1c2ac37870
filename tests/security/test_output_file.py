"""D5: `output_file` is opened at write time without following a link the agent made during
the run. The "agent" here is a fake Claude Code CLI that swaps a link in before it answers."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import admin_headers, make_config, openai_provider

FAKE_CLI = f"""#!{sys.executable}
import json, os
target, to, mode = os.environ["SWAP_TARGET"], os.environ["SWAP_TO"], os.environ["SWAP_MODE"]
if mode == "file":
    if os.path.lexists(target):
        os.unlink(target)
    os.symlink(to, target)
elif mode == "dir":
    os.rename(target, target + ".moved")
    os.symlink(to, target)
elif mode == "hardlink":
    os.link(to, target)
print(json.dumps({{"type": "result", "subtype": "success", "is_error": False, "result": "AGENT OUTPUT",
                  "session_id": "s1", "num_turns": 1, "total_cost_usd": 0, "usage": {{}}}}))
"""


async def run_with_swap(ccr_server, tmp_path: Path, mode: str, target: Path, to: Path) -> dict:
    cli = tmp_path / "fake-claude"
    cli.write_text(FAKE_CLI)
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    root = tmp_path / "root"
    config = make_config([openai_provider("http://127.0.0.1:9/v1/chat/completions")], {"default": "fake,gpt-test"},
                         CLAUDE_PATH=str(cli),
                         ClaudeCode={"allowed_roots": [str(root)], "retry_backoff": 0.1,
                                     "env": {"SWAP_TARGET": str(target), "SWAP_TO": str(to), "SWAP_MODE": mode}})
    ccr = await ccr_server(config)
    async with aiohttp.ClientSession(headers=admin_headers()) as http, http.post(
            f"{ccr.url}/api/claude-code",
            json={"prompt": "write it", "options": {"output_file": "out/result.txt", "max_retries": 0}}) as response:
        assert response.status == 200
        return await response.json()  # type: ignore[no-any-return]


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "root"
    (root / "out").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "result.txt"
    secret.write_text("ORIGINAL")
    return root, outside, secret


@pytest.mark.parametrize("mode", ["file", "dir", "hardlink"])
async def test_a_link_swapped_in_during_the_run_is_not_followed(ccr_server, tmp_path, layout, mode):
    root, outside, secret = layout
    target = {"file": root / "out" / "result.txt", "dir": root / "out", "hardlink": root / "out" / "result.txt"}[mode]
    to = outside if mode == "dir" else secret
    body = await run_with_swap(ccr_server, tmp_path, mode, target, to)
    assert secret.read_text() == "ORIGINAL", "output_file was written outside the allowed roots"
    result = body["result"]
    assert result["success"] is False and "output_file was not written" in result["error"], body
    assert str(tmp_path) not in json.dumps(body["result"]["error"])


async def test_an_untouched_output_file_is_written(ccr_server, tmp_path, layout):
    root, _, secret = layout
    body = await run_with_swap(ccr_server, tmp_path, "none", root / "out" / "result.txt", secret)
    assert body["result"]["success"] is True, body
    assert (root / "out" / "result.txt").read_text() == "AGENT OUTPUT"
    assert secret.read_text() == "ORIGINAL"
    assert not (root / "out" / "result.txt").is_symlink()
