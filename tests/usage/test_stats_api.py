"""GET /api/stats from the ledger and GET /metrics, over HTTP, with real SQLite underneath:
prices, unknown models, a restart of ccr in the middle, a config reload, bounded labels."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import anthropic
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccr.server.app import create_app
from ccr.usage.catalogue import base_catalogue
from tests.conftest import make_config, openai_provider
from tests.core.util import chat_reply
from tests.helpers import admin_headers

USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
         "prompt_tokens_details": {"cached_tokens": 400}}
PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6, "cache_read_input_token_cost": 1e-7}
# what the fake's usage costs at PRICES: 600 fresh input, 400 cache reads, 200 output
COST = 600 * 1e-6 + 400 * 1e-7 + 200 * 4e-6
HI = [{"role": "user", "content": "hi"}]


async def answer(request: web.Request) -> web.Response:
    body = await request.json()
    if body["messages"][-1]["content"] == "fail":
        return web.json_response({"error": {"message": "no such thing"}}, status=400)
    return web.json_response(chat_reply("ok", usage=USAGE))


def providers(url: str) -> list[dict]:
    priced = openai_provider(url, name="priced", models=["house-model"])
    priced["model_info"] = {"house-model": PRICES}
    unknown = openai_provider(url, name="other", models=["no-such-model-9d1e"])
    return [priced, unknown]


async def stats(url: str, query: str = "", headers: dict | None = None) -> tuple[int, dict]:
    headers = headers if headers is not None else admin_headers()
    async with aiohttp.ClientSession(headers=headers) as http, http.get(f"{url}/api/stats{query}") as resp:
        return resp.status, await resp.json()


async def send(url: str, model: str, content: str = "hi", **extra) -> None:
    async with anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0) as client:
        with contextlib.suppress(anthropic.APIStatusError):  # failures are counted too
            await client.messages.create(model=model, max_tokens=100,
                                         messages=[{"role": "user", "content": content}], **extra)


async def test_costs_per_model_with_a_price_override_and_an_unknown_model(fake_upstream, ccr_server):
    up = await fake_upstream(answer)
    ccr = await ccr_server(make_config(providers(up.url), {"default": "priced,house-model"}))
    await send(ccr.url, "claude-sonnet-4-5")
    await send(ccr.url, "claude-sonnet-4-5")
    await send(ccr.url, "other,no-such-model-9d1e")
    await send(ccr.url, "claude-sonnet-4-5", "fail")
    status, body = await stats(ccr.url)
    assert status == 200
    rows = {r["key"]: r for r in body["rows"]}
    priced, unknown = rows["priced,house-model"], rows["other,no-such-model-9d1e"]
    assert (priced["provider"], priced["model"], priced["requests"], priced["errors"]) == ("priced", "house-model", 3, 1)
    assert priced["errors_by_status"] == {"400": 1}
    assert priced["input_tokens"] == 1200 and priced["cache_read_tokens"] == 800 and priced["output_tokens"] == 400
    assert priced["cost_usd"] == pytest.approx(2 * COST)
    assert unknown["cost_usd"] is None and unknown["unpriced"] == 1  # unknown: null, never 0
    assert body["total"]["requests"] == 4 and body["total"]["cost_usd"] == pytest.approx(2 * COST)
    assert body["by"] == "model" and body["group"] is None and "series" not in body
    assert body["since"].endswith("Z") and body["until"].endswith("Z")
    legacy = {(m["provider"], m["model"]): m for m in body["models"]}
    assert legacy[("priced", "house-model")]["errors"] == {"400": 1}


async def test_group_by_and_the_time_window(fake_upstream, ccr_server):
    up = await fake_upstream(answer)
    ccr = await ccr_server(make_config(providers(up.url), {"default": "priced,house-model"}))
    await send(ccr.url, "claude-sonnet-4-5", metadata={"user_id": '{"session_id": "sess-1"}'})
    await send(ccr.url, "claude-sonnet-4-5")
    _, by_session = await stats(ccr.url, "?by=session&group=hour")
    assert {r["key"]: r["requests"] for r in by_session["rows"]} == {"sess-1": 1, "(none)": 1}
    bucket = time.strftime("%Y-%m-%dT%H:00:00.000Z", time.gmtime())
    assert {s["bucket"] for s in by_session["series"]} <= {bucket, time.strftime(
        "%Y-%m-%dT%H:00:00.000Z", time.gmtime(time.time() - 60))}
    _, by_provider = await stats(ccr.url, "?by=provider&group=day")
    assert [r["key"] for r in by_provider["rows"]] == ["priced"]
    _, later = await stats(ccr.url, f"?since={int(time.time()) + 10}&until={int(time.time()) + 20}")
    assert later["total"]["requests"] == 0 and later["total"]["cost_usd"] is None and later["rows"] == []
    _, iso = await stats(ccr.url, "?since=2020-01-01T00:00:00Z")
    assert iso["since"] == "2020-01-01T00:00:00.000Z" and iso["total"]["requests"] == 2


@pytest.mark.parametrize("query", ["?by=nothing", "?group=week", "?since=yesterday",
                                   "?since=100&until=50", "?until=1e400", "?since=-5"])
async def test_bad_stats_queries_get_a_400_that_says_why(fake_upstream, ccr_server, query):
    up = await fake_upstream(answer)
    ccr = await ccr_server(make_config(providers(up.url), {"default": "priced,house-model"}))
    status, body = await stats(ccr.url, query)
    assert status == 400 and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]


async def test_the_ledger_survives_a_restart_of_ccr_and_a_reload(fake_upstream):
    up = await fake_upstream(answer)
    config = make_config(providers(up.url), {"default": "priced,house-model"})
    first = TestServer(create_app(config), host="127.0.0.1")
    await first.start_server()
    url = f"http://127.0.0.1:{first.port}"
    await send(url, "claude-sonnet-4-5")
    await first.close()  # the process' app goes away: rows were in the file by then
    second = TestServer(create_app(config), host="127.0.0.1")
    await second.start_server()
    url = f"http://127.0.0.1:{second.port}"
    try:
        await send(url, "claude-sonnet-4-5")
        _, body = await stats(url)
        assert body["total"]["requests"] == 2
        assert body["total"]["cost_usd"] == pytest.approx(2 * COST)
    finally:
        await second.close()


async def test_metrics_in_prometheus_text_with_bounded_labels(fake_upstream, ccr_server):
    up = await fake_upstream(answer)
    spec = openai_provider(up.url, name="open")
    spec["models"] = []  # no list: any model name a client sends goes through
    spec["model_info"] = {"listed": PRICES}
    ccr = await ccr_server(make_config([spec], {"default": "open,listed"}))
    await send(ccr.url, "claude-sonnet-4-5")
    for n in range(20):
        await send(ccr.url, f"open,client-made-name-{n}")
    async with aiohttp.ClientSession(headers=admin_headers()) as http, http.get(f"{ccr.url}/metrics") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    assert 'ccr_requests_total{front="anthropic",model="listed",provider="open"} 1.0' in text
    assert 'ccr_requests_total{front="anthropic",model="(other)",provider="open"} 20.0' in text
    assert "client-made-name" not in text
    assert 'ccr_tokens_total{kind="output",model="listed",provider="open"} 200.0' in text
    cost = next(line for line in text.splitlines() if line.startswith('ccr_cost_usd_total{model="listed"'))
    assert float(cost.split()[-1]) == pytest.approx(COST)
    assert 'ccr_unpriced_requests_total{model="(other)",provider="open"} 20.0' in text
    assert 'ccr_request_duration_seconds_count{model="listed",provider="open"} 1.0' in text
    assert "ccr_open_streams 0.0" in text


async def test_metrics_and_stats_need_the_key_when_one_is_set(fake_upstream, ccr_server):
    up = await fake_upstream(answer)
    ccr = await ccr_server(make_config(providers(up.url), {"default": "priced,house-model"}, APIKEY="sekrit-key"))
    async with aiohttp.ClientSession() as http:
        for path in ("/metrics", "/api/stats"):
            async with http.get(ccr.url + path) as resp:
                assert resp.status == 401
            async with http.get(ccr.url + path, headers={"x-api-key": "sekrit-key"}) as resp:
                assert resp.status == 200


async def test_an_open_stream_is_counted_while_it_runs(fake_upstream, ccr_server):
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
                             b'"choices":[{"index":0,"delta":{"role":"assistant","content":"a"}}]}\n\n')
        await release.wait()
        await response.write(b"data: [DONE]\n\n")
        return response

    up = await fake_upstream(slow)
    ccr = await ccr_server(make_config(providers(up.url), {"default": "priced,house-model"}))

    async def gauge() -> str:
        async with aiohttp.ClientSession(headers=admin_headers()) as http, http.get(f"{ccr.url}/metrics") as resp:
            return next(line for line in (await resp.text()).splitlines() if line.startswith("ccr_open_streams "))

    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        async with client.messages.stream(model="x", max_tokens=10, messages=HI) as stream:
            async for event in stream:
                if event.type == "content_block_delta":
                    break
            assert await gauge() == "ccr_open_streams 1.0"
            release.set()
            await stream.get_final_message()
    for _ in range(50):
        if await gauge() == "ccr_open_streams 0.0":
            break
        await asyncio.sleep(0.02)
    assert await gauge() == "ccr_open_streams 0.0"


def test_the_catalogue_is_loaded_once_per_process():
    assert base_catalogue() is base_catalogue()
