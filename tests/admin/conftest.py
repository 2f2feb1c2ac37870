"""Fixtures for the management API: ccr started from a real config file, and an HTTP client.

    admin = await admin_server({"Providers": [...], "Router": {...}}, log=True)
    status, body, headers = await admin.call("GET", "/api/config")
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from ccr import admin_token
from ccr.config import load
from ccr.logs.setup import LOGGING, Logging
from ccr.server.app import create_app


def chat_reply(text: str, prompt_tokens: int = 10, completion_tokens: int = 2, model: str = "gpt-test") -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


def replying(text: str, **kw: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(chat_reply(text, **kw))
    return handler


@dataclass
class Admin:
    url: str
    app: web.Application
    path: Path
    home: Path
    session: aiohttp.ClientSession
    key: str | None = None

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def credential(self) -> str | None:
        """The admin key, else the local admin token the server wrote at start."""
        return self.key or admin_token.read(self.home)

    def headers(self, auth: bool = True, **extra: str) -> dict[str, str]:
        credential = self.credential if auth else None
        headers = {"x-api-key": credential} if credential else {}
        headers.update(extra)
        return headers

    async def call(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
                   auth: bool = True, encoded: bool = False,
                   headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        """One request; `encoded=True` sends `path` byte for byte (no client-side quoting)."""
        url = URL(self.url + path, encoded=True) if encoded else self.url + path
        kwargs: dict[str, Any] = {"headers": {**self.headers(auth), **(headers or {})}}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        async with self.session.request(method, url, **kwargs) as resp:
            text = await resp.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = text
            return resp.status, body, dict(resp.headers)


@pytest.fixture
async def admin_server() -> Any:
    """Write `raw` to $CCR_HOME/config.json, start ccr from it; `log=True` also writes log files."""
    started: list[tuple[TestServer, aiohttp.ClientSession, Logging | None]] = []

    async def start(raw: dict[str, Any], *, log: bool = False, text: str | None = None) -> Admin:
        home = Path(os.environ["CCR_HOME"])
        path = home / "config.json"
        path.write_text(text if text is not None else json.dumps(raw, indent=2), encoding="utf-8")
        config = load(path)
        app = create_app(config)
        logging_ = None
        if log:
            logging_ = Logging(console=False)
            logging_.apply(config)
            app[LOGGING] = logging_
        server = TestServer(app, host="127.0.0.1", handler_cancellation=True)
        await server.start_server()
        session = aiohttp.ClientSession()
        started.append((server, session, logging_))
        return Admin(f"http://127.0.0.1:{server.port}", app, path, home, session, config.access.admin_key)

    yield start
    for server, session, logging_ in started:
        await session.close()
        await server.close()
        if logging_ is not None:
            logging_.close()


def provider(url: str, name: str = "fake", models: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "api_base_url": url, "api_key": "sk-upstream-secret-0123456789abcdef",
            "models": models or ["gpt-test"], **extra}
