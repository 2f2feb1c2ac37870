"""The `ccr` command's own calls to the management API work with and without keys: it sends
the local admin token to a ccr on this machine, else ADMIN_APIKEY (APIKEY when unset)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccr import admin_token
from tests.cli.conftest import ccr, home, provider, write_config  # noqa: F401  (fixtures)

from .conftest import LONG_KEY

ADMIN_KEY = "admin-key-0123456789abcdef-xyz"
SETUPS = {
    "no-key": ({}, False),
    "apikey": ({"APIKEY": LONG_KEY}, False),
    "admin-apikey": ({"APIKEY": LONG_KEY, "ADMIN_APIKEY": ADMIN_KEY}, False),
    "admin-apikey-no-token-file": ({"APIKEY": LONG_KEY, "ADMIN_APIKEY": ADMIN_KEY}, True),
}


def routes(root: Path) -> dict:
    return json.loads((root / "config.json").read_text())["Router"]


@pytest.mark.parametrize("name", list(SETUPS))
async def test_cli_manages_the_running_service(ccr, home, name):  # noqa: F811
    keys, drop_token = SETUPS[name]
    write_config(home, Providers=[provider("http://127.0.0.1:9/v1/chat/completions", models=["gpt-a", "gpt-b"])],
                 Router={"default": "fake,gpt-a"}, **keys)
    assert (await ccr("start")).code == 0
    assert admin_token.read(home)
    if drop_token:  # then only the config's ADMIN_APIKEY can do it
        (home / admin_token.FILE_NAME).unlink()
    status = await ccr("status", "--json")
    assert status.code == 0 and json.loads(status.out)["state"] == "running", status
    done = await ccr("model", "set", "background", "fake,gpt-b")
    assert done.code == 0 and "running service uses it now" in done.out, done
    assert routes(home)["background"] == "fake,gpt-b"
    assert LONG_KEY not in done.out + done.err and ADMIN_KEY not in done.out + done.err
    restarted = await ccr("restart")
    assert restarted.code == 0, restarted
    assert admin_token.read(home)  # written again at start when it was gone
