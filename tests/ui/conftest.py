"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, and ccr started from
a real config file with a fake OpenAI-compatible provider behind it.

    ui = await ui_server({"Providers": [...], "Router": {...}})
    await page.goto(ui.url + "/ui/")
    assert ui.saved()["Router"]["default"] == "fake,gpt-test"
    assert page_errors == []          # uncaught exceptions and console errors (CSP, failed loads)

Playwright runs the system Chromium (CCR_TEST_CHROMIUM): no browser is downloaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from ccr import admin_token
from ccr.config import load
from ccr.logs.setup import Logging


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


CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".cache" / "ui-screenshots"


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """What went wrong in the page: uncaught exceptions and console.error (CSP, failed loads)."""
    return []


@pytest.fixture
async def page(browser: Browser, page_errors: list[str]) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda exc: page_errors.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: page_errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    yield page
    await context.close()


async def wait_for(page: Page, predicate: str, timeout: float = 15.0) -> Any:
    """Poll the JavaScript expression until it is truthy (a throw counts as false); its value.

    Not `page.wait_for_function`: it polls with eval() inside the page, which the UI's CSP
    (no 'unsafe-eval') forbids; `page.evaluate` goes through the DevTools protocol instead.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    guarded = f"(() => {{ try {{ return ({predicate}); }} catch {{ return false; }} }})()"
    while True:
        value = await page.evaluate(guarded)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still false after {timeout:.0f}s: {predicate}")
        await asyncio.sleep(0.05)


async def screenshot(page: Page, name: str) -> Path:
    """Save the page to .cache/ui-screenshots/NAME.png (kept for a person to look at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


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


async def open_ui(page: Page, url: str, tab: str = "", *, token: bool = True) -> None:
    """Open the UI (at /ui, which redirects to /ui/) on `tab`; wait for the app or the login form.
    With `token`, the page first gets the local admin token the way `ccr ui` passes it."""
    ready = ("document.querySelector('#app:not([hidden]) .panel:not([hidden]) h2')"
             " || document.querySelector('#login:not([hidden])')")
    value = admin_token.read(Path(os.environ["CCR_HOME"])) if token else None
    if value:
        await page.goto(f"{url}/ui/#token={value}")
        await wait_for(page, ready)
    await page.goto(url + ("/ui/#" + tab if tab else "/ui"))
    await wait_for(page, ready)
