"""The Settings tab's ADMIN_APIKEY and IDLE_TIMEOUT_MS fields (problems shown under the field,
the file untouched), and Router routes written as lists (fallbacks) shown and kept by a save."""

from __future__ import annotations

import copy

import anthropic

from .conftest import open_ui, screenshot, wait_for
from .test_browser import two_providers, wait_notice

PROBLEM = "document.querySelector('[data-problem-for=\"{id}\"]')?.innerText ?? ''"


async def label_of(page, selector: str) -> str:
    return await page.evaluate(f"[...document.querySelector('{selector}').labels].map(l => l.innerText).join(' ')")


async def test_admin_key_and_idle_timeout_are_settings_with_their_problems_beside_them(
        page, page_errors, ui_server, provider, monkeypatch):
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    monkeypatch.setenv("CCR_TEST_ADMIN_KEY", "admin-key-from-environment-0123")
    ui = await ui_server(two_providers(provider.url))
    before = ui.path.read_bytes()
    await open_ui(page, ui.url, "settings")
    assert "Admin key" in await label_of(page, "#setting-ADMIN_APIKEY")
    assert "Idle connection timeout (ms)" in await label_of(page, "#setting-IDLE_TIMEOUT_MS")
    assert await page.get_attribute("#setting-ADMIN_APIKEY", "type") == "password"

    await page.fill("#setting-IDLE_TIMEOUT_MS", "100")
    await page.fill("#setting-HOST", "0.0.0.0")
    await page.fill("#setting-APIKEY", "client-key-long-enough-0123")
    await page.fill("#setting-ADMIN_APIKEY", "short")
    await page.click("#save")
    assert "The config was not saved" in await wait_notice(page, "error")
    assert ui.path.read_bytes() == before
    idle = await page.evaluate(PROBLEM.format(id="setting-IDLE_TIMEOUT_MS"))
    assert idle.startswith("IDLE_TIMEOUT_MS:") and "500 to 30000" in idle
    admin = await page.evaluate(PROBLEM.format(id="setting-ADMIN_APIKEY"))
    assert admin.startswith("ADMIN_APIKEY:") and "at least 16 characters" in admin
    assert await page.get_attribute("#setting-ADMIN_APIKEY", "aria-describedby") == "setting-ADMIN_APIKEY-problem"
    assert await page.evaluate(PROBLEM.format(id="setting-PORT")) == ""
    await page.locator("#setting-ADMIN_APIKEY").scroll_into_view_if_needed()
    await screenshot(page, "desktop-settings-problems")

    await page.fill("#setting-IDLE_TIMEOUT_MS", "1500")
    await page.fill("#setting-HOST", "")
    await page.fill("#setting-APIKEY", "")
    await page.fill("#setting-ADMIN_APIKEY", "$CCR_TEST_ADMIN_KEY")   # a reference is shown as written
    assert await page.get_attribute("#setting-ADMIN_APIKEY", "type") == "text"
    await page.click("#save")
    await wait_notice(page, "ok", "Config saved")
    await wait_for(page, "!document.querySelector('.field-error')")   # the problems are gone
    saved = ui.saved()
    assert saved["IDLE_TIMEOUT_MS"] == 1500 and saved["ADMIN_APIKEY"] == "$CCR_TEST_ADMIN_KEY"
    assert "HOST" not in saved and "APIKEY" not in saved
    refused = "console: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert page_errors == [refused], page_errors      # the browser logs the refused save, nothing else


async def test_routes_written_as_lists_are_shown_and_kept(page, page_errors, ui_server, provider, monkeypatch):
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    raw = two_providers(provider.url)
    raw["Router"]["default"] = ["fake,gpt-test", "local,llama-small"]
    raw["Router"]["think"] = "fake,gpt-big"
    raw["fallback"] = {"think": ["local,llama-small", "fake,gpt-test"]}
    ui = await ui_server(raw)
    await open_ui(page, ui.url, "router")
    assert await page.input_value("#route-default") == "fake,gpt-test"
    assert await page.input_value("#route-think") == "fake,gpt-big"
    default_hint = await page.inner_text("label:has(#route-default) .hint")
    assert "Falls back to local · llama-small." in default_hint
    think_hint = await page.inner_text("label:has(#route-think) .hint")
    assert "Falls back to local · llama-small, then fake · gpt-test." in think_hint

    await page.select_option("#route-background", "fake,gpt-test")    # another route: the lists stay
    await page.click("#save")
    await wait_notice(page, "ok", "Config saved")
    saved = ui.saved()
    expected = copy.deepcopy(raw)
    expected["Router"]["background"] = "fake,gpt-test"
    assert saved == expected

    await page.select_option("#route-default", "fake,gpt-big")         # the route itself: its fallbacks stay
    await page.click("#save-restart")
    await wait_for(page, "document.querySelector('.notice.ok')?.innerText.includes('Restarted')")
    assert ui.saved()["Router"]["default"] == ["fake,gpt-big", "local,llama-small"]
    assert ui.saved()["fallback"] == raw["fallback"]
    async with anthropic.AsyncAnthropic(base_url=ui.url, api_key="unused") as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=50,
                                     messages=[{"role": "user", "content": "ping"}])
    assert provider.recorder.last["model"] == "gpt-big"
    assert page_errors == [], page_errors
