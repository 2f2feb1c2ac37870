"""What a newcomer sees: the first start explains itself, status names the next step, a restart
checks the file before it stops anything, and help text stays readable."""

from __future__ import annotations

import json
import urllib.request

from ccr.service_record import alive
from tests.helpers import free_port

from .conftest import provider, write_config


def health(url: str) -> dict | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=5) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


async def test_first_start_says_what_it_wrote_and_what_to_do_next(ccr, home):
    port = free_port()
    path = home / "config.json"
    assert not path.exists()
    started = await ccr("start", "--port", str(port))
    assert started.code == 0, started
    assert path.exists()
    out = started.out
    assert f"wrote a default config to {path}" in out
    assert "setup mode" in out and "next steps" in out
    assert f"http://127.0.0.1:{port}/ui/" in out and "ccr code" in out

    status = await ccr("status")
    assert status.code == 0, status
    assert f"next: add a provider and a default route in http://127.0.0.1:{port}/ui/" in status.out

    again = await ccr("restart", "--port", str(port))   # the file exists now: nothing "wrote"
    assert again.code == 0, again
    assert "wrote a default config" not in again.out


async def test_status_with_a_provider_suggests_ccr_code(ccr, home):
    write_config(home, Providers=[provider("http://127.0.0.1:9/v1/chat/completions")],
                 Router={"default": "fake,gpt-test"})
    started = await ccr("start")
    assert started.code == 0, started
    assert "setup mode" not in started.out and "next steps" not in started.out
    assert "next: `ccr code` runs Claude Code through ccr" in (await ccr("status")).out


async def test_restart_with_a_broken_config_leaves_the_service_running(ccr, home):
    raw = write_config(home, Providers=[provider("http://127.0.0.1:9/v1/chat/completions")],
                       Router={"default": "fake,gpt-test"})
    url = f"http://127.0.0.1:{raw['PORT']}"
    assert (await ccr("start")).code == 0
    pid = ccr.pid()

    broken = dict(raw, PORT=99999, Router={"default": "nowhere,gpt-test"})
    (home / "config.json").write_text(json.dumps(broken))
    result = await ccr("restart")
    assert result.code == 2, result
    assert "not restarted" in result.err and f"pid {pid}" in result.err and "left as it is" in result.err
    assert "PORT" in result.err and "99999" in result.err
    assert "Router.default" in result.err and "nowhere" in result.err
    assert "Traceback" not in result.err
    assert ccr.pid() == pid and alive(pid)
    assert health(url)["status"] == "ok"

    (home / "config.json").write_text('{ "Providers": [ oops')   # a syntax error: the same
    syntax = await ccr("restart")
    assert syntax.code == 2 and "syntax error" in syntax.err and ccr.pid() == pid


async def test_help_examples_are_one_per_line(ccr):
    model = await ccr("model", "--help")
    lines = [line.strip() for line in model.out.splitlines()]
    assert "ccr model set default deepseek,deepseek-chat" in lines
    assert "ccr model set think none" in lines
    code = await ccr("code", "--help")
    assert "IS_SANDBOX=1" in code.out and "--allowedTools" in code.out
