"""`ccr model`: show routes, set one offline (validated, atomic, backed up) or on the running service."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import anthropic
from aiohttp import web

from .conftest import ccr_argv, provider, write_config

MODELS = ["gpt-a", "gpt-b"]


def router(home: Path) -> dict:
    return json.loads((home / "config.json").read_text())["Router"]


async def test_set_offline_validates_writes_atomically_and_keeps_a_backup(ccr, home):
    write_config(home, Providers=[provider("http://127.0.0.1:9/v1/chat/completions", models=MODELS)],
                 Router={"default": "fake,gpt-a"})
    before = (home / "config.json").read_text()

    done = await ccr("model", "set", "default", "fake,gpt-b")
    assert done.code == 0, done
    assert router(home)["default"] == "fake,gpt-b"
    backups = list(home.glob("config.json.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == before

    assert (await ccr("model", "set", "long_context", "fake,gpt-a")).code == 0  # spelling variants
    assert (await ccr("model", "set", "longContextThreshold", "80000")).code == 0
    assert router(home) == {"default": "fake,gpt-b", "longContext": "fake,gpt-a", "longContextThreshold": 80000}
    assert (await ccr("model", "set", "longContext", "none")).code == 0
    assert "longContext" not in router(home)

    unchanged = (home / "config.json").read_text()
    for args, words in ((("think", "fake,gpt-zzz"), ("gpt-zzz", "not in")),
                        (("think", "nobody,gpt-a"), ("'nobody' does not exist",)),
                        (("think", "no-comma"), ("PROVIDER,MODEL",)),
                        (("default", "none"), ("cannot be removed",))):
        refused = await ccr("model", "set", *args)
        assert refused.code != 0, refused
        assert all(w in refused.err for w in words) and "Traceback" not in refused.err, refused
        assert (home / "config.json").read_text() == unchanged

    shown = await ccr("model")
    assert shown.code == 0
    assert "default      fake,gpt-b" in shown.out and "think        (not set)" in shown.out
    assert "fake,gpt-a, fake,gpt-b" in shown.out


def sse_reply(model_seen: list[str]):
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model_seen.append(body["model"])
        return web.json_response({
            "id": "c1", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"from {body['model']}"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})
    return handler


async def test_set_on_the_running_service_applies_at_once(ccr, home, fake_upstream):
    seen: list[str] = []
    up = await fake_upstream(sse_reply(seen))
    port = write_config(home, APIKEY="sk-ccr-local", Providers=[provider(up.url, models=MODELS)],
                        Router={"default": "fake,gpt-a"})["PORT"]
    assert (await ccr("start")).code == 0
    pid = ccr.pid()

    done = await ccr("model", "set", "background", "fake,gpt-b")
    assert done.code == 0, done
    assert "running service uses it now" in done.out
    assert router(home)["background"] == "fake,gpt-b"
    async with anthropic.AsyncAnthropic(base_url=f"http://127.0.0.1:{port}", api_key="sk-ccr-local") as client:
        reply = await client.messages.create(model="claude-haiku-4-5", max_tokens=50,
                                             messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "from gpt-b" and seen == ["gpt-b"]

    refused = await ccr("model", "set", "think", "fake,gpt-zzz")
    assert refused.code == 1 and "gpt-zzz" in refused.err, refused
    assert "think" not in router(home)
    assert ccr.pid() == pid


def test_interactive_picker_on_a_terminal(ccr, home):
    write_config(home, Providers=[provider("http://127.0.0.1:9/v1/chat/completions", models=MODELS)],
                 Router={"default": "fake,gpt-a"})
    main, child = pty.openpty()
    proc = subprocess.Popen(ccr_argv("model"), stdin=child, stdout=child, stderr=child, env=os.environ)
    os.close(child)
    screen = b""
    try:
        for prompt, answer in ((b"route to change", b"3\n"), (b"think [0-2]", b"2\n")):
            deadline = time.monotonic() + 60
            while prompt not in screen and time.monotonic() < deadline:
                if select.select([main], [], [], 1)[0]:
                    screen += os.read(main, 4096)
            assert prompt in screen, screen.decode(errors="replace")
            os.write(main, answer)
        assert proc.wait(timeout=60) == 0
        while select.select([main], [], [], 0.5)[0]:
            try:
                screen += os.read(main, 4096)
            except OSError:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    assert b"think: fake,gpt-b" in screen, screen.decode(errors="replace")
    assert router(home) == {"default": "fake,gpt-a", "think": "fake,gpt-b"}
