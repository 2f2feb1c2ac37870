"""The management UI in a real headless Chromium against a real ccr and a fake provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
from aiohttp import web
from playwright.async_api import Page

from ccr.server.keys import RUNTIME

from .conftest import chat_reply, open_ui, wait_for


def two_providers(url: str) -> dict[str, Any]:
    """A config with keys the UI knows and keys it does not (they must survive a save)."""
    return {
        "LOG": False,
        "NON_INTERACTIVE_MODE": True,
        "MY_TEAM_SETTING": {"nested": [1, 2, {"deep": True}]},
        "Providers": [
            {"name": "fake", "api_base_url": url, "api_key": "$UI_TEST_KEY",
             "models": ["gpt-test", "gpt-big"], "x_provider_note": "kept",
             "transformer": {"use": [["maxtoken", {"max_tokens": 4096}]]}},
            {"name": "local", "api_base_url": url, "api_key": "sk-literal-secret-0123456789",
             "models": ["llama-small"]},
        ],
        "Router": {"default": "fake,gpt-test", "background": "local,llama-small",
                   "longContextThreshold": 50000, "x_router_extra": "kept too"},
    }


async def text(page: Page, selector: str = "body") -> str:
    return await page.inner_text(selector)


async def wait_notice(page: Page, kind: str, containing: str = "") -> str:
    """The text of the notice of `kind` ("ok" or "error") once it shows `containing`;
    waiting for "ok" stops early (and fails, saying why) when an error notice appears."""
    wanted = (f"(document.querySelector('.notice.{kind}')?.innerText ?? '').includes({json.dumps(containing)})"
              f" && 'ok:' + document.querySelector('.notice.{kind}').innerText")
    if kind == "ok":
        wanted = f"({wanted}) || (document.querySelector('.notice.error') && 'error:' + " \
                 "document.querySelector('.notice.error').innerText)"
    else:
        wanted = wanted.replace("'ok:'", "'error:'")
    outcome, _, message = (await wait_for(page, wanted)).partition(":")
    assert outcome == kind, message
    return message


async def test_page_loads_with_config_and_no_console_errors(page, page_errors, ui_server, provider, monkeypatch, tmp_path):
    """Providers and routes from the config appear; keys are masked; nothing errors."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    ui = await ui_server(two_providers(provider.url))
    await open_ui(page, ui.url)
    assert await page.evaluate("location.pathname") == "/ui/"
    await wait_for(page, "document.querySelectorAll('.card.provider').length === 2")
    body = await text(page)
    assert "fake" in body and "local" in body and "gpt-big" in body and "llama-small" in body
    assert "maxtoken" in body and "max_tokens=4096" in body
    assert "$UI_TEST_KEY" in body                        # a reference is shown as written
    assert "sk-literal-secret-0123456789" not in body    # a literal key is masked
    assert "sk-from-environment" not in body             # and the environment's value never appears

    await page.click('[data-tab="router"]')
    await wait_for(page, "document.querySelector('#route-default')")
    assert await page.evaluate("document.querySelector('#route-default').value") == "fake,gpt-test"
    assert await page.evaluate("document.querySelector('#route-background').value") == "local,llama-small"
    assert await page.evaluate("document.querySelector('#route-think').value") == ""
    options = await page.evaluate("[...document.querySelector('#route-think').options].map(o => o.value)")
    assert options == ["", "fake,gpt-test", "fake,gpt-big", "local,llama-small"]
    assert "x_router_extra" in await text(page, "#tab-router")

    for tab in ("settings", "transformers", "logs", "stats", "json", "providers"):
        await page.click(f'[data-tab="{tab}"]')
        await wait_for(page, f"!document.querySelector('#tab-{tab}').hidden")
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    shot = tmp_path / "providers.png"
    await page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert page_errors == [], page_errors


async def test_edit_route_and_save_keeps_every_other_key(page, page_errors, ui_server, provider, monkeypatch):
    """Changing one route writes exactly that change: unknown keys and $VARs stay (#749)."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    original = two_providers(provider.url)
    ui = await ui_server(original)
    await open_ui(page, ui.url, "router")
    assert await page.evaluate("document.querySelector('#save').disabled")
    await page.select_option("#route-think", "fake,gpt-big")
    await wait_for(page, "!document.querySelector('#dirty').hidden")
    await page.click("#save")
    await wait_notice(page, "ok", "Config saved")
    expected = json.loads(json.dumps(original))
    expected["Router"]["think"] = "fake,gpt-big"
    assert ui.saved() == expected
    assert await page.evaluate("document.querySelector('#dirty').hidden")
    assert page_errors == [], page_errors


async def test_save_and_restart_applies_the_new_route(page, page_errors, ui_server, provider, monkeypatch):
    """Save and restart: the next request is routed by what the user picked in the page."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    ui = await ui_server(two_providers(provider.url))
    await open_ui(page, ui.url, "router")
    await page.select_option("#route-default", "fake,gpt-big")
    await page.click("#save-restart")
    await wait_for(page, "document.querySelector('.notice.ok')?.innerText.includes('Restarted')")
    assert ui.saved()["Router"]["default"] == "fake,gpt-big"
    assert ui.app[RUNTIME].config.router.default == "fake,gpt-big"
    async with anthropic.AsyncAnthropic(base_url=ui.url, api_key="unused") as client:
        reply = await client.messages.create(model="claude-sonnet-5", max_tokens=50,
                                             messages=[{"role": "user", "content": "ping"}])
    assert reply.content[0].text == "pong"
    assert provider.recorder.last["model"] == "gpt-big"
    assert page_errors == [], page_errors


async def test_bad_value_shows_the_servers_problems_and_leaves_the_file(page, ui_server, provider, monkeypatch):
    """A config the server rejects: every problem is shown, nothing is written."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    ui = await ui_server(two_providers(provider.url))
    before = ui.path.read_bytes()
    await open_ui(page, ui.url, "settings")
    await page.fill("#setting-PORT", "99999")
    await page.select_option("#setting-LOG_LEVEL", "debug")
    await page.click('[data-tab="router"]')
    await page.fill("#route-longContextThreshold", "-5")
    await page.click("#save")
    error = await wait_notice(page, "error")
    assert "The config was not saved" in error
    assert "PORT" in error and "99999" in error
    assert "Router.longContextThreshold" in error and "'-5'" in error
    assert ui.path.read_bytes() == before
    assert not await page.evaluate("document.querySelector('#dirty').hidden")  # the edits are still there
    invalid = await page.evaluate("[...document.querySelectorAll('[aria-invalid=true]')].map(e => e.id).sort()")
    assert invalid == ["route-longContextThreshold", "setting-PORT"]
    # Fixing the values and saving again works.
    await page.fill("#route-longContextThreshold", "70000")
    await page.click('[data-tab="settings"]')
    await page.fill("#setting-PORT", "")
    await page.click("#save")
    await wait_notice(page, "ok", "Config saved")
    saved = ui.saved()
    assert saved["Router"]["longContextThreshold"] == 70000
    assert saved["LOG_LEVEL"] == "debug" and "PORT" not in saved


async def test_add_and_edit_providers_in_the_dialog(page, ui_server, provider, monkeypatch):
    """The provider dialog writes name, URL, key reference, models and a chain with options."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    ui = await ui_server(two_providers(provider.url))
    await open_ui(page, ui.url)
    await page.click("#add-provider")
    await wait_for(page, "document.querySelector('dialog[open] form')")
    await page.fill("dialog[open] [name=name]", "fake")   # taken: refused in the dialog
    await page.fill("dialog[open] [name=api_base_url]", "https://api.example.com/v1/chat/completions")
    await page.click("dialog[open] [data-apply]")
    assert "already called" in await wait_for(page, "document.querySelector('dialog[open] .form-errors')?.innerText")
    await page.fill("dialog[open] [name=name]", "example")
    monkeypatch.setenv("EXAMPLE_KEY", "sk-example-0123456789")  # the server checks $VARs resolve
    await page.fill("dialog[open] [name=api_key]", "$EXAMPLE_KEY")
    await page.fill("dialog[open] [name=models]", "ex-1\nex-2")
    await page.click("dialog[open] .chain > button")
    await page.fill("dialog[open] .chain-name", "maxtoken")
    await page.fill("dialog[open] .chain-options", '{"max_tokens": 1000}')
    await page.click("dialog[open] [data-apply]")
    await wait_for(page, "!document.querySelector('dialog[open]') && document.querySelector('[data-provider=example]')")

    # Rename "local": its route follows; keys the dialog does not show are kept.
    await page.click('[data-provider="local"] [data-action="edit"]')
    await wait_for(page, "document.querySelector('dialog[open] form')")
    assert await page.evaluate("document.querySelector('dialog[open] [name=api_key]').type") == "password"
    await page.fill("dialog[open] [name=name]", "ollama")
    await page.click("dialog[open] [data-apply]")
    await wait_for(page, "document.querySelector('[data-provider=ollama]')")
    await page.click("#save")
    await wait_notice(page, "ok", "Config saved")

    saved = ui.saved()
    names = [p["name"] for p in saved["Providers"]]
    assert names == ["fake", "ollama", "example"]
    assert saved["Providers"][2] == {
        "name": "example", "api_base_url": "https://api.example.com/v1/chat/completions",
        "api_key": "$EXAMPLE_KEY", "models": ["ex-1", "ex-2"],
        "transformer": {"use": [["maxtoken", {"max_tokens": 1000}]]},
    }
    assert saved["Providers"][1]["api_key"] == "sk-literal-secret-0123456789"
    assert saved["Providers"][0]["x_provider_note"] == "kept"
    assert saved["Router"]["background"] == "ollama,llama-small"


async def test_delete_a_provider_still_routed_to_is_refused_by_the_server(page, ui_server, provider, monkeypatch):
    """Deleting a provider the Router uses: the page warns, the server names the route."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    ui = await ui_server(two_providers(provider.url))
    before = ui.path.read_bytes()
    await open_ui(page, ui.url)
    await page.click('[data-provider="local"] [data-action="delete"]')
    warning = await wait_for(page, "document.querySelector('dialog[open]')?.innerText")
    assert "background" in warning
    await page.click("dialog[open] [data-confirm]")
    await wait_for(page, "!document.querySelector('[data-provider=local]')")
    await page.click("#save")
    error = await wait_notice(page, "error")
    assert "Router.background" in error and "'local' does not exist" in error
    assert ui.path.read_bytes() == before


async def test_raw_json_editor(page, ui_server, provider, monkeypatch):
    """Raw JSON: invalid text is refused in the page; valid text is applied and saved."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    ui = await ui_server(two_providers(provider.url))
    await open_ui(page, ui.url, "json")
    shown = json.loads(await page.evaluate("document.querySelector('#raw-json').value"))
    assert shown == two_providers(provider.url)
    await page.fill("#raw-json", "{ not json")
    assert "Not valid JSON" in await page.inner_text(".raw-status")
    edited = dict(shown, API_TIMEOUT_MS=120000, ANOTHER_UNKNOWN=["x"])
    await page.fill("#raw-json", json.dumps(edited))
    await page.click("#save")
    await wait_notice(page, "ok", "Config saved")
    assert ui.saved() == edited
    await page.click('[data-tab="settings"]')
    assert await page.evaluate("document.querySelector('#setting-API_TIMEOUT_MS').value") == "120000"


async def test_log_viewer(page, ui_server, provider, monkeypatch):
    """The log viewer lists the files, shows the request line, filters, and clears a file."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    raw = two_providers(provider.url)
    raw["LOG"] = True
    ui = await ui_server(raw, log=True)
    async with anthropic.AsyncAnthropic(base_url=ui.url, api_key="unused") as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=50,
                                     messages=[{"role": "user", "content": "ping"}])
    ui.logging.flush()
    await open_ui(page, ui.url, "logs")
    await wait_for(page, "document.querySelector('[data-file=\"claude-code-router.log\"]')")
    files = await page.evaluate("[...document.querySelectorAll('[data-file]')].map(b => b.dataset.file)")
    server_log = next(name for name in files if name.startswith("ccr-"))
    assert await page.evaluate("document.querySelector('[data-file].active').dataset.file") == server_log
    await wait_for(page, "[...document.querySelectorAll('.log-line')].some(l => l.innerText.includes('fake,gpt-test'))")
    assert "sk-literal-secret" not in await text(page, ".log-lines")

    await page.select_option("#log-level", "error")
    await wait_for(page, "document.querySelector('.log-lines').innerText.includes('No matching lines')")
    await page.select_option("#log-level", "")
    await page.fill("#log-search", "fake,gpt-test")
    await page.keyboard.press("Enter")
    await wait_for(page, "document.querySelectorAll('.log-line').length > 0 && [...document.querySelectorAll('.log-line')]"
                        ".every(l => l.innerText.includes('fake,gpt-test'))")

    await page.click('[data-file="claude-code-router.log"]')
    await wait_for(page, "document.querySelector('.log-lines').innerText.includes('default')")
    await page.click("#log-clear")
    await page.click("dialog[open] [data-confirm]")
    await wait_notice(page, "ok")
    assert (Path(ui.app[RUNTIME].config.log_dir) / "claude-code-router.log").stat().st_size == 0
    await wait_for(page, "document.querySelector('.log-lines').innerText.includes('No matching lines')")


async def test_login_with_apikey(page, ui_server, provider, monkeypatch):
    """With APIKEY the page asks for it: a wrong key is refused, the right one opens the UI."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    raw = two_providers(provider.url)
    raw["APIKEY"] = "ui-test-apikey-4242"
    ui = await ui_server(raw)
    await open_ui(page, ui.url, token=False)
    assert await page.evaluate("!document.querySelector('#login').hidden && document.querySelector('#app').hidden")
    assert await page.evaluate("document.querySelector('#tab-providers').textContent") == ""

    await page.fill("#login-key", "wrong-key")
    await page.keyboard.press("Enter")
    await wait_for(page, "document.querySelector('#login-error').innerText.includes('Invalid API key')")
    assert await page.evaluate("document.querySelector('#app').hidden")
    assert await page.evaluate("localStorage.getItem('ccr.apiKey')") is None

    await page.fill("#login-key", "ui-test-apikey-4242")
    await page.keyboard.press("Enter")
    await wait_for(page, "document.querySelectorAll('.card.provider').length === 2")
    assert await page.evaluate("localStorage.getItem('ccr.apiKey')") == "ui-test-apikey-4242"

    await page.goto(ui.url + "/ui/")                      # the key is remembered
    await wait_for(page, "document.querySelectorAll('.card.provider').length === 2")
    await page.click("#logout")
    await wait_for(page, "!document.querySelector('#login').hidden")
    assert await page.evaluate("localStorage.getItem('ccr.apiKey')") is None


async def test_a_config_file_broken_by_hand_is_shown_as_running_and_can_be_fixed(page, ui_server, provider, monkeypatch):
    """The file on disk no longer parses: the page says so, shows what runs, and Save repairs it."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")
    ui = await ui_server(two_providers(provider.url))
    ui.path.write_text('{ "Providers": [ oops', encoding="utf-8")
    await open_ui(page, ui.url)
    assert "config file on disk has errors" in await wait_notice(page, "error")
    await wait_for(page, "document.querySelectorAll('.card.provider').length === 2")
    await page.click('[data-tab="router"]')
    await page.select_option("#route-think", "fake,gpt-big")
    await page.click("#save")
    await wait_notice(page, "ok", "Config saved")
    assert ui.saved()["Router"]["think"] == "fake,gpt-big"
    assert ui.saved()["MY_TEAM_SETTING"] == {"nested": [1, 2, {"deep": True}]}


async def test_a_provider_added_is_offered_by_the_router_at_once(page, page_errors, ui_server, provider,
                                                                 fake_upstream, monkeypatch):
    """Add a provider, make it the default in Router (no save or restart in between), save and
    restart: the next request goes to it. A deleted provider is no longer offered."""
    monkeypatch.setenv("UI_TEST_KEY", "sk-from-environment-0123456789")

    async def newcomer(request):
        body = await request.json()
        return web.json_response(chat_reply("from the new one", body.get("model", "")))

    other = await fake_upstream(newcomer)
    ui = await ui_server(two_providers(provider.url))
    await open_ui(page, ui.url, "router")
    choices = "[...document.querySelector('#route-default').options].map(o => o.value)"
    assert "fresh,fresh-1" not in await page.evaluate(choices)
    await page.click('[data-tab="providers"]')
    await page.click("#add-provider")
    await page.fill("dialog[open] [name=name]", "fresh")
    await page.fill("dialog[open] [name=api_base_url]", other.url)
    await page.fill("dialog[open] [name=models]", "fresh-1")
    await page.click("dialog[open] [data-apply]")
    await wait_for(page, "document.querySelector('[data-provider=fresh]')")
    await page.click('[data-tab="router"]')
    await wait_for(page, f"{choices}.includes('fresh,fresh-1')")
    await page.select_option("#route-default", "fresh,fresh-1")
    await page.click("#save-restart")
    await wait_for(page, "document.querySelector('.notice.ok')?.innerText.includes('Restarted')")
    async with anthropic.AsyncAnthropic(base_url=ui.url, api_key="unused") as client:
        reply = await client.messages.create(model="claude-sonnet-5", max_tokens=50,
                                             messages=[{"role": "user", "content": "ping"}])
    assert reply.content[0].text == "from the new one"
    assert other.recorder.last["model"] == "fresh-1"

    await page.click('[data-tab="providers"]')
    await page.click('[data-provider="fake"] [data-action="delete"]')
    await page.click("dialog[open] [data-confirm]")
    await page.click('[data-tab="router"]')
    await wait_for(page, f"!{choices}.some(v => v.startsWith('fake,'))")
    assert page_errors == [], page_errors
