"""Claude Code's max_tokens against a provider that refuses more than its model's output limit
(the way OpenAI does), and requests larger than the routed model's context window."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import aiohttp
import anthropic
import pytest

from ccr.proxy.records import PreparedRequest, RequestRecord
from ccr.proxy.router import Route
from ccr.proxy.runtime import build_runtime
from ccr.usage.catalogue import Books, base_catalogue
from ccr.usage.limits import Limits
from tests.conftest import make_config, openai_provider
from tests.helpers import admin_headers

from .conftest import strict_provider

CLAUDE = os.environ.get("CCR_TEST_CLAUDE") or str(
    Path(__file__).resolve().parents[2] / ".cache/claude-cli/node_modules/.bin/claude")
SMALL = {"small-model": {"max_output_tokens": 8192}}
HI = [{"role": "user", "content": "hi"}]


async def ledger_rows(url: str) -> list[dict]:
    async with aiohttp.ClientSession(headers=admin_headers()) as http, http.get(f"{url}/api/stats") as resp:
        return (await resp.json())["rows"]


@pytest.mark.parametrize("stream", [False, True])
async def test_claude_codes_128000_is_lowered_to_the_models_output_limit(strict, stream):
    up, ccr = await strict(model_info=SMALL)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        if stream:
            async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=128000, timeout=60,
                                              messages=HI) as s:
                message = await s.get_final_message()
        else:
            message = await client.messages.create(model="claude-sonnet-4-5", max_tokens=128000, timeout=60,
                                                   messages=HI)
    assert message.content[0].text == "fits"
    assert up.recorder.last["max_tokens"] == 8192


async def test_without_a_known_limit_the_request_goes_as_asked(strict):
    up, ccr = await strict(models=["no-such-model-3f9c"])  # not in the catalogue, no model_info
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(model="claude-sonnet-4-5", max_tokens=128000, messages=HI, timeout=60)
    assert up.recorder.last["max_tokens"] == 128000
    assert "fake,no-such-model-3f9c" in caught.value.message and "400" in caught.value.message


async def test_a_catalogued_model_needs_no_config(strict):
    limit = base_catalogue().find("fake", "http://127.0.0.1", "gpt-4o").max_output_tokens
    assert limit is not None and limit < 128000
    up, ccr = await strict(models=["gpt-4o"], max_output=limit)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        message = await client.messages.create(model="claude-sonnet-4-5", max_tokens=128000, messages=HI, timeout=60)
    assert message.content[0].text == "fits"
    assert up.recorder.last["max_tokens"] == limit


async def test_a_request_under_the_limit_is_untouched(strict):
    up, ccr = await strict(model_info=SMALL)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        await client.messages.create(model="claude-sonnet-4-5", max_tokens=1000, messages=HI)
    assert up.recorder.last["max_tokens"] == 1000


async def test_an_explicit_maxtoken_option_still_wins(strict):
    use = {"transformer": {"use": [["maxtoken", {"max_tokens": 16000}]]}}
    up, ccr = await strict(model_info=SMALL, max_output=20000, provider=use)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        await client.messages.create(model="claude-sonnet-4-5", max_tokens=128000, messages=HI, timeout=60)
    assert up.recorder.last["max_tokens"] == 16000  # the user's figure, not the catalogue's 8192


async def test_the_openai_front_door_is_limited_too(strict):
    up, ccr = await strict(model_info={"small-model": {"max_output_tokens": 4096}})
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{ccr.url}/v1/chat/completions", json={
                "model": "gpt-whatever", "max_completion_tokens": 50000,
                "messages": [{"role": "user", "content": "hi"}]}) as resp:
            assert resp.status == 200, await resp.text()
    sent = up.recorder.last
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 4096


async def test_a_request_over_the_context_window_is_refused_naming_model_window_and_size(strict):
    up, ccr = await strict(model_info={"small-model": {"max_input_tokens": 2000, "max_output_tokens": 500}})
    big = [{"role": "user", "content": "word " * 5000}]
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=big)
    message = caught.value.message
    assert "fake,small-model" in message and "2000 tokens" in message and "about 500" in message
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert up.recorder.requests == []  # the provider never saw it


async def test_a_request_over_the_context_window_goes_to_long_context(strict, fake_upstream):
    wide_up = await fake_upstream(strict_provider())
    wide = openai_provider(wide_up.url, name="wide", models=["wide-model"])
    wide["model_info"] = {"wide-model": {"max_input_tokens": 1_000_000}}
    up, ccr = await strict(model_info={"small-model": {"max_input_tokens": 2000}}, extra=[wide],
                           router={"default": "fake,small-model", "longContext": "wide,wide-model"})
    big = [{"role": "user", "content": "word " * 5000}]
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        response = await client.messages.with_raw_response.create(
            model="claude-sonnet-4-5", max_tokens=100, messages=big)
    assert response.headers["x-ccr-route"].startswith("wide,wide-model; reason=longContext")
    assert up.recorder.requests == [] and len(wide_up.recorder.requests) == 1


async def test_the_output_limit_leaves_room_for_the_input_in_the_window(strict):
    up, ccr = await strict(model_info={"small-model": {"max_input_tokens": 8000, "max_output_tokens": 8000}})
    text = [{"role": "user", "content": "word " * 3000}]  # about 3000 tokens
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        await client.messages.create(model="claude-sonnet-4-5", max_tokens=8000, messages=text)
    sent = up.recorder.last["max_tokens"]
    assert 4000 < sent < 5100  # 8000 minus the input's exact count


@pytest.mark.skipif(not Path(CLAUDE).exists(), reason="Claude Code CLI not installed (scripts/test.sh installs it)")
async def test_the_real_claude_code_gets_answers_from_a_model_with_an_8k_output_limit(strict, tmp_path):
    up, ccr = await strict(model_info=SMALL, APIKEY="ccr-key")
    home = tmp_path / "claude-home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "ANTHROPIC_BASE_URL": ccr.url, "ANTHROPIC_AUTH_TOKEN": "ccr-key",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_MAX_RETRIES": "0"}
    proc = await asyncio.create_subprocess_exec(
        CLAUDE, "-p", "say hi", "--output-format", "json", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    result = json.loads(stdout or b"{}")
    assert result.get("is_error") is False and result["result"] == "fits", (result, stderr.decode()[-2000:])
    assert all(r["max_tokens"] <= 8192 for r in up.recorder.requests)
    async with aiohttp.ClientSession(headers={"x-api-key": "ccr-key"}) as http:
        async with http.get(f"{ccr.url}/api/stats") as resp:
            report = await resp.json()
    assert report["total"]["requests"] >= 1
    assert report["total"]["clamped"] >= 1  # Claude Code asked for more than 8192: that is the point
    main = next(r for r in up.recorder.requests if any("say hi" in json.dumps(m) for m in r["messages"]))
    assert main["max_tokens"] == 8192


def test_a_thinking_budget_is_kept_below_the_lowered_max_tokens():
    spec = openai_provider("http://127.0.0.1:9/v1/chat/completions", models=["small-model"])
    spec["model_info"] = SMALL
    runtime = build_runtime(make_config([spec], {"default": "fake,small-model"}))
    provider, model = runtime.router.resolve("fake,small-model", "test")
    body = {"model": "claude-sonnet-4-5", "max_tokens": 128000, "messages": HI,
            "thinking": {"type": "enabled", "budget_tokens": 31999}}
    record = RequestRecord(request_id="req_1")
    prepared = PreparedRequest(front="anthropic", body=body, request_id="req_1",
                               route=Route(provider, model, "default"), record=record)
    Limits(Books(base_catalogue()), lambda: runtime)(prepared)
    assert body["max_tokens"] == 8192 and body["thinking"] == {"type": "enabled", "budget_tokens": 8191}
    assert record.max_tokens_clamped == 8192
