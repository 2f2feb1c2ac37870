"""The Tasks, Inspector and Usage pages (each driven by real requests through ccr), the log
following live, the admin token from the URL, and a screenshot of every page on a desktop and
a phone."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import pytest
from playwright.async_api import Page

from tests.execution.conftest import ScriptedModel, claude_bin

from .conftest import open_ui, screenshot, wait_for

PAGES = ("providers", "router", "settings", "transformers", "logs", "stats", "tasks", "inspector", "json")
UNNAMED_CONTROLS = """[...document.querySelectorAll('button, select, input, textarea, a[href], summary')]
    .filter(e => e.offsetParent !== null)
    .filter(e => !(e.getAttribute('aria-label') || e.labels?.length || e.innerText.trim() || e.title))
    .map(e => e.outerHTML.slice(0, 80))"""
SECRET = "sk-inspected-provider-key-0123456789"


def config(url: str, **top: Any) -> dict[str, Any]:
    return {"LOG": False, "Providers": [{"name": "fake", "api_base_url": url, "api_key": SECRET,
                                         "models": ["gpt-test", "gpt-big"]}],
            "Router": {"default": "fake,gpt-test"}, **top}


async def ask(url: str, text: str = "ping", **extra: Any) -> Any:
    async with anthropic.AsyncAnthropic(base_url=url, api_key="unused") as client:
        return await client.messages.create(model="claude-sonnet-5", max_tokens=50,
                                            messages=[{"role": "user", "content": text}], **extra)


async def test_the_inspector_shows_a_request_with_its_key_redacted(page, page_errors, ui_server, provider):
    ui = await ui_server(config(provider.url, INSPECTOR=True))
    reply = await ask(ui.url, f"my key is {SECRET}, and Bearer abcdefghijklmnop")   # a real request
    assert reply.content[0].text == "pong"
    assert SECRET in json.dumps(provider.recorder.last)      # the provider got the text as it was
    await open_ui(page, ui.url, "inspector")
    await wait_for(page, "document.querySelector('[data-body=provider_body] pre')?.innerText.includes('gpt-test')")
    shown = await page.inner_text("#inspector-detail")
    assert "my key is [redacted]" in shown and "Bearer [redacted]" in shown
    assert SECRET not in shown and "abcdefghijklmnop" not in shown
    assert "fake,gpt-test (default)" in shown
    client = await page.inner_text("[data-body=client_body] pre")
    assert '"model": "claude-sonnet-5"' in client and '"max_tokens": 50' in client
    sent = await page.inner_text("[data-body=provider_body] pre")
    assert '"model": "gpt-test"' in sent and '"role": "user"' in sent    # the routed model, OpenAI shape
    assert '"text": "pong"' in await page.inner_text("[data-body=reply] pre")
    await screenshot(page, "desktop-inspector-request")
    await page.click("#inspector-clear")
    await page.click("dialog[open] [data-confirm]")
    await wait_for(page, "document.querySelector('#inspector-list').innerText.includes('No requests recorded')")
    assert page_errors == [], page_errors


CHART_REQUESTS = """(() => { const data = document.querySelector('#chart-requests')?.plotData;
    return data ? data.slice(1).flat().reduce((a, b) => a + b, 0) : null; })()"""
TABLE_REQUESTS = """[...document.querySelectorAll('#usage-table tbody tr')]
    .reduce((sum, row) => sum + Number(row.children[1].innerText.replace(/[^0-9]/g, '')), 0)"""


async def usage_counts(page: Page) -> tuple[int, int]:
    """(requests in the uPlot chart's data, requests in the table) as the Usage page shows them."""
    return int(await page.evaluate(CHART_REQUESTS) or 0), int(await page.evaluate(TABLE_REQUESTS))


async def test_the_usage_chart_counts_a_request(page, page_errors, ui_server, provider):
    ui = await ui_server(config(provider.url))
    await ask(ui.url, "first")          # one request already in the ledger, so the chart is drawn
    await open_ui(page, ui.url, "stats")
    await wait_for(page, "document.querySelector('#chart-requests canvas')")
    before = await usage_counts(page)
    assert before[0] == before[1] >= 1, before
    await ask(ui.url, "second")         # a real request through ccr, with the SDK
    deadline = asyncio.get_running_loop().time() + 15
    while (now := await usage_counts(page))[0] == before[0]:
        assert asyncio.get_running_loop().time() < deadline, f"the chart still counts {now}"
        await page.click("#usage-refresh")
        await page.wait_for_timeout(200)
    assert now == (before[0] + 1, before[1] + 1)
    assert await page.get_attribute("#chart-requests", "data-total") == str(now[0])
    await screenshot(page, "desktop-usage-counted")
    assert page_errors == [], page_errors


@pytest.fixture
async def scripted(fake_upstream: Any) -> tuple[ScriptedModel, str]:
    model = ScriptedModel()
    upstream = await fake_upstream(model.handle)
    model.port = int(upstream.url.rsplit(":", 1)[1].split("/")[0])
    return model, upstream.url


async def test_a_task_streams_its_output_and_is_cancelled(page, page_errors, ui_server, scripted):
    model, url = scripted
    ui = await ui_server(config(url, CLAUDE_PATH=claude_bin(),
                                ClaudeCode={"retry_backoff": 0.1, "cli_max_retries": 0, "max_retries": 0}))
    await open_ui(page, ui.url, "tasks")
    await page.fill("#task-prompt", "@@HANG@@ MARK-ui")
    await page.click("#task-run")
    await wait_for(page, "document.querySelector('#task-detail:not([hidden]) #task-status')")
    # the CLI's first stream-json line (its init) arrives while the model call hangs
    await wait_for(page, "document.querySelector('#task-output')?.innerText.includes('[init]')", timeout=60)
    await asyncio.wait_for(model.hung.wait(), 60)
    assert await page.inner_text("#task-status") == "running"
    await screenshot(page, "desktop-task-running")
    await page.click("#task-cancel")
    await wait_for(page, "document.querySelector('#task-status')?.innerText === 'cancelled'", timeout=60)
    model.release.set()
    await wait_for(page, "document.querySelector('#task-list tr[data-status=cancelled]')")
    await page.select_option("#task-filter", "completed")
    await wait_for(page, "!document.querySelector('#task-list tr[data-status=cancelled]')")
    assert page_errors == [], page_errors


async def test_a_log_line_appears_live(page, page_errors, ui_server, provider):
    ui = await ui_server(dict(config(provider.url), LOG=True), log=True)
    await ask(ui.url, "first")
    ui.logging.flush()
    await open_ui(page, ui.url, "logs")
    await wait_for(page, "document.querySelector('.log-line')")
    await page.check("#log-follow")
    before = await page.evaluate("document.querySelectorAll('.log-line').length")
    await ask(ui.url, "second")
    ui.logging.flush()
    await wait_for(page, f"document.querySelectorAll('.log-line').length > {before}")
    assert page_errors == [], page_errors


async def test_a_token_in_the_url_fragment_is_kept_and_sent(page, page_errors, ui_server, provider):
    ui = await ui_server(config(provider.url, APIKEY="ui-fragment-key-4242"))
    await page.goto(ui.url + "/ui/#token=ui-fragment-key-4242")
    await wait_for(page, "document.querySelectorAll('.card.provider').length === 1")
    assert "token" not in await page.evaluate("location.hash")          # removed from the address
    assert await page.evaluate("localStorage.getItem('ccr.apiKey')") == "ui-fragment-key-4242"
    assert page_errors == [], page_errors


@pytest.mark.parametrize("device", ["desktop", "phone"])
async def test_a_screenshot_of_every_page(page: Page, page_errors, ui_server, provider, device):
    """Each page renders without errors and without sideways scrolling; the PNGs are kept."""
    if device == "phone":
        await page.set_viewport_size({"width": 390, "height": 844})
    ui = await ui_server(config(provider.url, INSPECTOR=True))
    await ask(ui.url)
    for tab in PAGES:
        await open_ui(page, ui.url, tab)
        await wait_for(page, f"!document.querySelector('#tab-{tab}').hidden")
        await page.wait_for_timeout(300)  # charts and lists fill in
        overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{tab} scrolls sideways by {overflow}px on the {device}"
        shot = await screenshot(page, f"{device}-{tab}")
        assert shot.stat().st_size > 5_000
        unnamed = await page.evaluate(UNNAMED_CONTROLS)
        assert unnamed == [], f"{tab}: controls without an accessible name: {json.dumps(unnamed)}"
    assert page_errors == [], page_errors
