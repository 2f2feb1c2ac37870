"""Fixtures for the execution API: the real Claude Code CLI, run by ccr, against a scripted
OpenAI-compatible model behind ccr.

The scripted model reads the user text of each request it gets:
  MARK-<word>        -> answers "OUT-<word>" (the last mark in the text wins)
  @@HANG@@           -> sets `model.hung` and waits for `model.release`
  @@FAIL500-ONCE@@   -> the first such request gets a 500, later ones the normal answer
  @@BADREQUEST@@     -> 400 (a request that retrying cannot fix)
  @@TOOLSLEEP@@      -> a Bash tool call starting a sleeper that reports its pid on /started
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccr.config import Config
from ccr.server.app import create_app
from ccr.sse import SSEDecoder
from tests.helpers import CLAUDE, make_config, openai_provider, sse

APIKEY = "ccr-test-key-1234567890"


def claude_bin() -> str:
    """The CLI's path; tests using it (or `exec_config`) carry the `claude_cli` marker."""
    return CLAUDE


def _user_text(body: dict[str, Any]) -> str:
    parts = []
    for message in body.get("messages", []):
        if message.get("role") not in ("user", "tool"):
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _has_tool_result(body: dict[str, Any]) -> bool:
    return any(m.get("role") == "tool" for m in body.get("messages", []))


@dataclass
class ScriptedModel:
    """The fake provider's behaviour and what it saw."""

    port: int = 0
    texts: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    hung: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    sleeper_pid: int | None = None
    failed_once: bool = False

    def tool_command(self) -> str:
        return ("python3 -c \"import os,time,urllib.request; urllib.request.urlopen("
                f"'http://127.0.0.1:{self.port}/started?pid=%d' % os.getpid()); time.sleep(600)\"")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/started":
            self.sleeper_pid = int(request.query["pid"])
            self.started.set()
            return web.Response(text="ok")
        body = await request.json()
        text = _user_text(body)
        self.texts.append(text)
        self.bodies.append(body)
        if "@@BADREQUEST@@" in text:
            return web.json_response({"error": {"message": "this prompt is not acceptable"}}, status=400)
        if "@@FAIL500-ONCE@@" in text and not self.failed_once:
            self.failed_once = True
            return web.json_response({"error": {"message": "temporary failure"}}, status=500)
        if "@@HANG@@" in text:
            self.hung.set()
            await self.release.wait()
        delta: dict[str, Any]
        if "@@TOOLSLEEP@@" in text and not _has_tool_result(body):
            delta = {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                     "function": {"name": "Bash", "arguments": json.dumps(
                         {"command": self.tool_command(), "description": "sleep"})}}]}
            finish = "tool_calls"
        else:
            marks = re.findall(r"MARK-([A-Za-z0-9]+)", text)
            delta = {"role": "assistant", "content": f"OUT-{marks[-1]}" if marks else "OUT-none"}
            finish = "stop"
        chunks = [
            {"id": "c1", "model": "gpt-test", "choices": [{"index": 0, "delta": delta}]},
            {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
            {"id": "c1", "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 7}},
        ]
        if not body.get("stream"):
            message = {"role": "assistant", "content": delta.get("content"), "tool_calls": [
                {k: v for k, v in c.items() if k != "index"} for c in delta.get("tool_calls", [])] or None}
            return web.json_response({"id": "c1", "object": "chat.completion", "model": "gpt-test",
                                      "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                                      "usage": {"prompt_tokens": 40, "completion_tokens": 7}})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(*chunks))
        return response


@pytest.fixture
async def model(fake_upstream: Any) -> AsyncIterator[tuple[ScriptedModel, str]]:
    scripted = ScriptedModel()
    upstream = await fake_upstream(scripted.handle)
    scripted.port = upstream.server.port
    yield scripted, upstream.url
    scripted.release.set()  # let hung handlers finish before the servers close


def exec_config(upstream_url: str, *, apikey: str | None = APIKEY, port: int | None = None,
                **claude_code: Any) -> Config:
    section = {"retry_backoff": 0.1, "cli_max_retries": 0, "max_concurrent": 2, **claude_code}
    top: dict[str, Any] = {"CLAUDE_PATH": claude_bin(), "ClaudeCode": section}
    if apikey:
        top["APIKEY"] = apikey
    if port:
        top["PORT"] = port
    return make_config([openai_provider(upstream_url)], {"default": "fake,gpt-test"}, **top)


@pytest.fixture
async def fixed_port_server() -> AsyncIterator[Any]:
    """ccr on the PORT its config names (tasks resumed at start talk to that port)."""
    servers: list[TestServer] = []

    async def start(config: Config) -> TestServer:
        server = TestServer(create_app(config), host="127.0.0.1", port=config.port,
                            handler_cancellation=True)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"x-api-key": APIKEY}) as session:
        yield session


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    decoder = SSEDecoder()
    async for chunk in response.content.iter_any():
        for event in decoder.feed(chunk):
            yield event.event or "message", json.loads(event.data)


async def wait_done(http: aiohttp.ClientSession, base: str, task_id: str) -> tuple[dict[str, Any], list]:
    """Follow a task's event stream to its end: (final task view, all events)."""
    seen: list[tuple[str, Any]] = []
    async with http.get(f"{base}/api/claude-code/task/{task_id}/events") as response:
        assert response.status == 200
        async for kind, data in sse_events(response):
            seen.append((kind, data))
            if kind == "done":
                return data, seen
    raise AssertionError(f"the event stream ended without a done event: {seen[-3:]}")


@pytest.fixture(autouse=True, params=["sqlite", "postgres"])
def task_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every execution test runs twice: on the embedded SQLite store and on a shared PostgreSQL
    (CCR_DATABASE_URL, with this process running the worker, as `ccr start` does by default)."""
    if request.param == "postgres":
        if request.node.get_closest_marker("sqlite_only"):
            pytest.skip("about the single-process SQLite store")
        url = request.getfixturevalue("upgraded_database")
        monkeypatch.setenv("CCR_DATABASE_URL", url)
    return str(request.param)
