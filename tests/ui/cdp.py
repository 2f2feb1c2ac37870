"""A small Chrome DevTools Protocol client over aiohttp websockets, for the UI tests.

    async with Browser.launch(executable) as browser:
        page = await browser.new_page()
        await page.goto("http://127.0.0.1:3456/ui/")
        await page.wait_for("document.querySelector('.card')")
        await page.click("#save")
        assert page.errors == []

Headless Chromium is started with a fresh profile and no network features of its own
(no sync, no component updates, no QUIC). Clicks and typing go through Input.* events, the
way a user's would, not through element.click().
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--window-size=1280,900",
    "--remote-debugging-port=0",
)
_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)\r?\n")


class CDPError(Exception):
    pass


@dataclass
class ConsoleEntry:
    kind: str  # "exception", "console", "log"
    level: str
    text: str
    url: str = ""


class Connection:
    """One websocket to the browser; commands by id, events to listeners by session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._listeners: list[tuple[str | None, Callable[[str, dict[str, Any]], None]]] = []
        self._reader = asyncio.create_task(self._read())

    async def send(self, method: str, params: dict[str, Any] | None = None,
                   session: str | None = None, timeout: float = 30) -> Any:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self.ws.send_str(json.dumps(message))
        async with asyncio.timeout(timeout):
            return await future

    def listen(self, session: str | None, callback: Callable[[str, dict[str, Any]], None]) -> None:
        self._listeners.append((session, callback))

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is None or future.done():
                    continue
                if "error" in data:
                    future.set_exception(CDPError(f"{data['error'].get('message')}: {data['error'].get('data', '')}"))
                else:
                    future.set_result(data.get("result", {}))
            else:
                for session, callback in list(self._listeners):
                    if session is None or session == data.get("sessionId"):
                        callback(data["method"], data.get("params", {}))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CDPError("the browser closed the connection"))

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@dataclass
class Page:
    conn: Connection
    session: str
    entries: list[ConsoleEntry] = field(default_factory=list)
    _waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = field(default_factory=dict)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.entries.append(ConsoleEntry("exception", "error", text, details.get("url", "")))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.entries.append(ConsoleEntry("console", params["type"], text))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.entries.append(ConsoleEntry("log", entry["level"], entry["text"], entry.get("url", "")))
        for future in self._waiters.pop(method, []):
            if not future.done():
                future.set_result(params)

    @property
    def errors(self) -> list[ConsoleEntry]:
        """Uncaught exceptions, console.error calls and browser errors (CSP, failed loads)."""
        return [e for e in self.entries if e.level in ("error", "assert")]

    def expect(self, event: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(event, []).append(future)
        return future

    async def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.conn.send(method, params, session=self.session)

    async def goto(self, url: str, timeout: float = 20) -> None:
        loaded = self.expect("Page.loadEventFired")
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        async with asyncio.timeout(timeout):
            await loaded

    async def evaluate(self, expression: str, timeout: float = 20) -> Any:
        result = await self.conn.send("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
        }, session=self.session, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    async def wait_for(self, predicate: str, timeout: float = 10) -> Any:
        """Wait until the JS expression is truthy (checked on every animation frame and DOM change)."""
        script = f"""new Promise((resolve, reject) => {{
            const check = () => {{ try {{ return ({predicate}); }} catch (e) {{ return null; }} }};
            const first = check();
            if (first) return resolve(first);
            const observer = new MutationObserver(() => {{
                const value = check();
                if (value) {{ observer.disconnect(); clearInterval(timer); clearTimeout(limit); resolve(value); }}
            }});
            observer.observe(document, {{subtree: true, childList: true, attributes: true, characterData: true}});
            const timer = setInterval(() => {{
                const value = check();
                if (value) {{ observer.disconnect(); clearInterval(timer); clearTimeout(limit); resolve(value); }}
            }}, 50);
            const limit = setTimeout(() => {{
                observer.disconnect(); clearInterval(timer);
                reject(new Error({json.dumps("timed out waiting for: " + predicate)}));
            }}, {int(timeout * 1000)});
        }})"""
        return await self.evaluate(script, timeout=timeout + 5)

    async def _center(self, selector: str) -> tuple[float, float]:
        box = await self.wait_for(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return null;
            el.scrollIntoView({{block: "center", inline: "center"}});
            const r = el.getBoundingClientRect();
            return r.width && r.height ? {{x: r.x + r.width / 2, y: r.y + r.height / 2}} : null;
        }})()""")
        return box["x"], box["y"]

    async def click(self, selector: str) -> None:
        x, y = await self._center(selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", {
                "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    async def fill(self, selector: str, text: str) -> None:
        """Focus a field, select what is in it and type `text` over it."""
        await self.click(selector)
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        if text:
            await self.send("Input.insertText", {"text": text})
        else:
            for kind in ("keyDown", "keyUp"):
                await self.send("Input.dispatchKeyEvent", {
                    "type": kind, "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8})

    async def press_enter(self) -> None:
        """Enter in the focused element (submits a form, commits a search field)."""
        await self.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Enter", "code": "Enter",
                                                   "windowsVirtualKeyCode": 13, "text": "\r"})
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Enter", "code": "Enter",
                                                   "windowsVirtualKeyCode": 13})

    async def choose(self, selector: str, value: str) -> None:
        """Pick an option of a <select> (headless has no popup to click), firing change like a user."""
        await self.wait_for(f"document.querySelector({json.dumps(selector)})")
        ok = await self.evaluate(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (![...el.options].some((o) => o.value === {json.dumps(value)})) return false;
            el.focus(); el.value = {json.dumps(value)};
            el.dispatchEvent(new Event("input", {{bubbles: true}}));
            el.dispatchEvent(new Event("change", {{bubbles: true}}));
            return true;
        }})()""")
        if not ok:
            raise CDPError(f"{selector} has no option {value!r}")

    async def text(self, selector: str) -> str:
        await self.wait_for(f"document.querySelector({json.dumps(selector)})")
        return await self.evaluate(f"document.querySelector({json.dumps(selector)}).innerText")

    async def screenshot(self, path: Path) -> Path:
        data = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
        path.write_bytes(base64.b64decode(data["data"]))
        return path


class Browser:
    def __init__(self, process: asyncio.subprocess.Process, conn: Connection,
                 http: aiohttp.ClientSession, profile: tempfile.TemporaryDirectory[str]) -> None:
        self.process, self.conn, self.http, self.profile = process, conn, http, profile

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, executable: str, timeout: float = 30) -> AsyncIterator[Browser]:
        profile = tempfile.TemporaryDirectory(prefix="ccr-chromium-")
        process = await asyncio.create_subprocess_exec(
            executable, *FLAGS, f"--user-data-dir={profile.name}", "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        found: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        drain = asyncio.create_task(_drain(process, found))
        http = aiohttp.ClientSession()
        try:
            async with asyncio.timeout(timeout):
                url = await found
            ws = await http.ws_connect(url, max_msg_size=0)
            browser = cls(process, Connection(ws), http, profile)
            try:
                yield browser
            finally:
                with contextlib.suppress(Exception):
                    await browser.conn.send("Browser.close", timeout=5)
                await browser.conn.close()
        finally:
            await http.close()
            if process.returncode is None:
                process.terminate()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()
            await drain
            profile.cleanup()

    async def new_page(self) -> Page:
        target = await self.conn.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.conn.send("Target.attachToTarget",
                                        {"targetId": target["targetId"], "flatten": True})
        page = Page(self.conn, attached["sessionId"])
        self.conn.listen(page.session, page._on_event)
        for domain in ("Page", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        return page


async def _drain(process: asyncio.subprocess.Process, found: asyncio.Future[str]) -> None:
    """Read Chromium's stderr to the end (a full pipe would stall it); report the DevTools URL."""
    assert process.stderr is not None
    seen = b""
    while chunk := await process.stderr.read(65536):
        if not found.done():
            seen = seen[-4096:] + chunk
            if match := _LISTENING.search(seen):
                found.set_result(match.group(1).decode())
    if not found.done():
        found.set_exception(CDPError(f"chromium exited ({process.returncode}) before DevTools listened"))
