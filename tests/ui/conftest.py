"""Fixtures for the browser tests: headless Chromium over CDP, and ccr started from a real
config file with a fake OpenAI-compatible provider behind it.

    ui = await ui_server({"Providers": [...], "Router": {...}})
    await page.goto(ui.url + "/ui/")
    assert ui.saved()["Router"]["default"] == "fake,gpt-test"
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ccr.config import load
from ccr.logs.setup import Logging

from .cdp import Browser, Page


@pytest.fixture
def chromium() -> str:
    """Debian's chromium (scripts/test.sh installs it and exports CCR_TEST_CHROMIUM)."""
    explicit = os.environ.get("CCR_TEST_CHROMIUM")
    if explicit:
        if not Path(explicit).exists():
            pytest.fail(f"CCR_TEST_CHROMIUM={explicit} does not exist")
        return explicit
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium: run `bash scripts/test.sh`, which installs it (apt-get install chromium)")
    return found


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with Browser.launch(chromium) as b:
        yield b


@pytest.fixture
async def page(browser: Browser) -> Page:
    page = await browser.new_page()
    await page.send("Emulation.setDeviceMetricsOverride",
                    {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    return page


@dataclass
class UI:
    url: str
    app: web.Application
    path: Path
    logging: Logging | None

    def saved(self) -> dict[str, Any]:
        """The config file as it is on disk now."""
        return json.loads(self.path.read_text(encoding="utf-8"))


@pytest.fixture
async def ui_server(ccr_server: Any) -> AsyncIterator[Any]:
    """Write `raw` (or `text`) to $CCR_HOME/config.json and start ccr from it.

    With `log=True` the process' logging writes JSON-line files to $CCR_HOME/logs, as
    `ccr start` does.
    """
    loggers: list[Logging] = []

    async def start(raw: dict[str, Any] | None = None, *, text: str | None = None, log: bool = False) -> UI:
        path = Path(os.environ["CCR_HOME"]) / "config.json"
        path.write_text(text if text is not None else json.dumps(raw, indent=2), encoding="utf-8")
        config = load(path)
        logging_ = None
        if log:
            logging_ = Logging(console=False)
            logging_.apply(config)
            loggers.append(logging_)
        server = await ccr_server(config)
        return UI(server.url, server.app, path, logging_)

    yield start
    for logging_ in loggers:
        logging_.close()


def chat_reply(text: str, model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-ui", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3}}


@pytest.fixture
async def provider(fake_upstream: Any) -> Any:
    """A fake OpenAI-compatible provider answering "pong" with the model it was asked for."""
    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(chat_reply("pong", body.get("model", "")))

    return await fake_upstream(handler)


async def open_ui(page: Page, url: str, tab: str = "") -> None:
    """Open the UI (at /ui, which redirects to /ui/) on `tab`; wait for the app or the login form."""
    await page.goto(url + ("/ui/#" + tab if tab else "/ui"))
    await page.wait_for("document.querySelector('#app:not([hidden]) .panel:not([hidden]) h2')"
                        " || document.querySelector('#login:not([hidden])')")
