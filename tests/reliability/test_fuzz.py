"""A seeded fuzz of every JSON endpoint: no 500, and no traceback, file path or key in any answer.

ccr runs in a thread with its own event loop; hypothesis drives it from this (synchronous)
test with a plain HTTP client. Payloads are random JSON, random JSON under each endpoint's
real keys, valid bodies with one field replaced, and raw byte strings. `derandomize=True`
makes every run draw the same examples, so a failure reproduces.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccr.config import load
from ccr.server.app import create_app

from .conftest import APIKEY, UPSTREAM_KEY, chat_reply

pytestmark = pytest.mark.slow

ENDPOINTS = {
    "/v1/messages": {"model": "fake,gpt-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    "/v1/messages/count_tokens": {"model": "x", "messages": [{"role": "user", "content": "hi"}]},
    "/v1/chat/completions": {"model": "fake,gpt-test", "messages": [{"role": "user", "content": "hi"}]},
    "/api/config": {"Providers": [], "Router": {}},
    "/api/claude-code": {"prompt": "hi", "options": {"timeout": 5}},
    "/api/claude-code/async": {"prompt": "hi"},
    "/api/claude-code/batch": {"tasks": [{"prompt": "hi"}]},
    "/api/claude-code/workflow": {"workflow": [{"name": "a", "prompt": "hi"}]},
    "/api/tasks/cleanup": {"days": 7},
}
KEYS = sorted({"model", "messages", "role", "content", "type", "text", "max_tokens", "stream", "system",
               "tools", "tool_choice", "name", "input_schema", "temperature", "top_p", "thinking",
               "metadata", "image", "source", "tool_use_id", "input", "Providers", "Router", "default",
               "api_base_url", "api_key", "models", "transformer", "use", "prompt", "options", "tasks",
               "workflow", "days", "timeout", "format", "stop_sequences", "n", "stream_options",
               "function", "arguments", "tool_calls", "image_url", "url", "LOG_LEVEL", "PORT",
               "HOST", "APIKEY", "API_TIMEOUT_MS", "MAX_BODY_MB", "ClaudeCode", "critical"})
_TRACEBACK = re.compile(r"Traceback|File \"|site-packages")
# Paths in error answers. A task's result names the configured CLI in `command` (and the
# launcher's stderr may too): that is the task's record, not an error of ccr's.
_PATHS = re.compile(r"/work/|/tmp/|\.py\b")

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=30) | st.sampled_from(["user", "assistant", "text", "tool", "fake,gpt-test",
                                                     "auto", "any", "json", "", "\u0000", "\ud800"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
                           max_leaves=25)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(sorted(ENDPOINTS)))
    kind = draw(st.sampled_from(["random", "mutated", "bytes"]))
    if kind == "random":
        value = draw(json_values)
    elif kind == "mutated":
        value = json.loads(json.dumps(ENDPOINTS[path]))
        target = value
        while True:  # walk down a random path of the valid body, then replace what is there
            key = draw(st.sampled_from(sorted(target))) if isinstance(target, dict) and target else None
            if key is None:
                break
            if isinstance(target[key], dict | list) and draw(st.booleans()):
                inner = target[key]
                if isinstance(inner, list) and inner and isinstance(inner[0], dict):
                    target = inner[0]
                    continue
                if isinstance(inner, dict):
                    target = inner
                    continue
            target[key] = draw(json_values)
            break
    else:
        return path, draw(st.binary(max_size=60) | st.sampled_from([b"[" * 5000, b'{"a":NaN}', b"\xff\xfe{}",
                                                                     b'{"model": 1e400}', b"null", b"   "]))
    return path, json.dumps(value).encode()


@contextlib.contextmanager
def ccr_in_a_thread(home: Path) -> Iterator[int]:
    """ccr and a fake provider, each on its own loop thread; yields ccr's port."""
    script = home / "claude"
    script.write_text("#!/nonexistent/interpreter\n")  # tasks fail to start, at once
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    ports: dict[str, int] = {}

    async def upstream(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(chat_reply())

    async def main() -> None:
        up = web.AppRunner(web.Application())
        up.app.router.add_route("*", "/{tail:.*}", upstream)
        await up.setup()
        up_site = web.TCPSite(up, "127.0.0.1", 0)
        await up_site.start()
        up_port = up_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        raw = {"APIKEY": APIKEY, "CLAUDE_PATH": str(script), "API_TIMEOUT_MS": 5000,
               "Providers": [{"name": "fake", "api_base_url": f"http://127.0.0.1:{up_port}/v1/chat/completions",
                              "api_key": UPSTREAM_KEY, "models": ["gpt-test"]}],
               "Router": {"default": "fake,gpt-test"}}
        (home / "config.json").write_text(json.dumps(raw), encoding="utf-8")
        runner = web.AppRunner(create_app(load(home / "config.json")), handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports["ccr"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
            await up.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield ports["ccr"]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def test_fuzz_every_json_endpoint(_isolated_home: Path) -> None:
    with ccr_in_a_thread(_isolated_home) as port:
        seen: dict[int, int] = {}

        @settings(derandomize=True, max_examples=400, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(payloads())
        def check(case: tuple[str, bytes]) -> None:
            path, data = case
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("POST", path, body=data, headers={"x-api-key": APIKEY,
                                                                "Content-Type": "application/json"})
                resp = conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
            finally:
                conn.close()
            seen[resp.status] = seen.get(resp.status, 0) + 1
            assert resp.status < 500 or resp.status in (502, 503, 504, 529), (path, data[:200], text[:500])
            assert not _TRACEBACK.search(text), (path, data[:200], text[:500])
            if resp.status >= 400:
                assert not _PATHS.search(text), (path, data[:200], text[:500])
            assert UPSTREAM_KEY not in text and APIKEY not in text
            if resp.status >= 400 and not text.startswith("data:"):
                body: Any = json.loads(text)
                error = body.get("error")
                assert isinstance(error, dict) and isinstance(error.get("message"), str), text[:300]

        check()
        assert sum(n for status, n in seen.items() if 400 <= status < 500) > 100  # it did probe
