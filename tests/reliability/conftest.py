"""Fixtures for the reliability suite: ccr from a real config file, with a fake provider.

    ccr = await live(upstream_handler, **top_level_config)   # -> Live(url, app, home, headers)
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccr.config import load
from ccr.server.app import create_app

APIKEY = "ccr-reliability-key-0123456789"
UPSTREAM_KEY = "sk-upstream-secret-0123456789abcdef"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def chat_reply(text: str = "hi") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


async def replying(request: web.Request) -> web.StreamResponse:
    await request.read()
    return web.json_response(chat_reply())


@dataclass
class Live:
    url: str
    app: web.Application
    home: Path
    upstream_url: str
    session: aiohttp.ClientSession
    upstream_hits: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": APIKEY}

    async def call(self, method: str, path: str, data: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        body = io.BytesIO(data) if data is not None and len(data) > 1024 * 1024 else data
        async with self.session.request(method, self.url + path, data=body,
                                        headers={**self.headers, **(headers or {})}) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text


@pytest.fixture
async def live() -> AsyncIterator[Callable[..., Awaitable[Live]]]:
    """ccr started from $CCR_HOME/config.json with one OpenAI-style provider `fake,gpt-test`."""
    cleanup: list[Any] = []

    async def start(handler: Handler = replying, **top: Any) -> Live:
        hits: list[str] = []

        async def upstream(request: web.Request) -> web.StreamResponse:
            hits.append(request.path)
            return await handler(request)

        up_app = web.Application()
        up_app.router.add_route("*", "/{tail:.*}", upstream)
        up = TestServer(up_app, host="127.0.0.1", handler_cancellation=True)
        await up.start_server()
        cleanup.append(up)
        home = Path(os.environ["CCR_HOME"])
        up_url = f"http://127.0.0.1:{up.port}/v1/chat/completions"
        raw = {"APIKEY": APIKEY,
               "Providers": [{"name": "fake", "api_base_url": up_url, "api_key": UPSTREAM_KEY,
                              "models": ["gpt-test"]}],
               "Router": {"default": "fake,gpt-test"}, **top}
        (home / "config.json").write_text(json.dumps(raw, indent=2), encoding="utf-8")
        app = create_app(load(home / "config.json"))
        server = TestServer(app, host="127.0.0.1", handler_cancellation=True)
        await server.start_server()
        cleanup.append(server)
        session = aiohttp.ClientSession()
        cleanup.append(session)
        return Live(f"http://127.0.0.1:{server.port}", app, home, up_url, session, hits)

    yield start
    for item in reversed(cleanup):
        await item.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds; still part of the default run")
