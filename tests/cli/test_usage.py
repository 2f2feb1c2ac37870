"""`ccr usage` and `ccr model info`, as a user runs them: a day of use across two restarts."""

from __future__ import annotations

import json

import anthropic
import pytest
from aiohttp import web

from ccr.usage.catalogue import base_catalogue

from .conftest import provider, write_config

USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6}
COST = 1000 * 1e-6 + 200 * 4e-6


async def reply(request: web.Request) -> web.Response:
    return web.json_response({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": "ok"}}],
                              "usage": USAGE})


def config(home, url: str) -> None:
    priced = provider(url, name="priced", models=["house-model"])
    priced["model_info"] = {"house-model": PRICES}
    write_config(home, Providers=[priced, provider(url, name="other", models=["mystery-model-5c2"])],
                 Router={"default": "priced,house-model"})


async def ask(url: str, model: str, n: int) -> None:
    async with anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0) as client:
        for _ in range(n):
            await client.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])


async def test_usage_adds_up_across_two_restarts(ccr, home, fake_upstream):
    up = await fake_upstream(reply)
    config(home, up.url)
    assert (await ccr("usage")).out.startswith("no usage recorded yet")
    for round_ in range(3):  # start, use, stop; three times
        started = await ccr("start")
        assert started.code == 0, started
        url = json.loads((await ccr("status", "--json")).out)["url"]
        await ask(url, "claude-sonnet-4-5", 2)
        await ask(url, "other,mystery-model-5c2", 1)
        if round_ < 2:
            assert (await ccr("stop")).code == 0
    shown = await ccr("usage", "--json")  # the service still runs: read beside it
    assert shown.code == 0, shown
    figures = json.loads(shown.out)
    for span in ("today", "month"):
        models = figures[span]["models"]
        assert models["priced,house-model"]["requests"] == 6
        assert models["priced,house-model"]["cost_usd"] == pytest.approx(6 * COST)
        assert models["other,mystery-model-5c2"]["cost_usd"] is None  # unknown price: never 0
        assert figures[span]["total"]["requests"] == 9 and figures[span]["total"]["unpriced"] == 3
    table = await ccr("usage")
    assert table.code == 0, table
    lines = table.out.splitlines()
    priced = next(line for line in lines if line.startswith("priced,house-model"))
    assert priced.split()[1] == "6" and f"${6 * COST:.4f}" in priced
    assert "unknown" in next(line for line in lines if line.startswith("other,mystery-model-5c2"))
    assert "3 request(s) this month used a model with no known price" in table.out


async def test_model_info_shows_what_ccr_knows_and_where_from(ccr, home):
    gpt = provider("http://127.0.0.1:9/v1/chat/completions", name="openai", models=["gpt-4o", "house"])
    gpt["model_info"] = {"house": {"max_output_tokens": 4096, "input_cost_per_token": 2.7e-7}}
    write_config(home, Providers=[gpt], Router={"default": "openai,gpt-4o"})

    known = await ccr("model", "info", "openai,gpt-4o", "--json")
    assert known.code == 0, known
    expected = base_catalogue().find("openai", "http://127.0.0.1:9", "gpt-4o")
    info = json.loads(known.out)
    assert info["max_output_tokens"] == expected.max_output_tokens and info["source"] == expected.source
    assert info["source"].startswith("models.dev openai/gpt-4o")

    overridden = await ccr("model", "info", "openai,house")
    assert overridden.code == 0, overridden
    assert "4,096 tokens" in overridden.out and "$0.27 per million tokens" in overridden.out
    assert "config Providers[0] (openai).model_info.house" in overridden.out

    unknown = await ccr("model", "info", "openai,never-heard-of-it")
    assert unknown.code == 0 and "ccr knows nothing of this model" in unknown.out and '"model_info"' in unknown.out

    for args, words in ((("nobody,gpt-4o",), "'nobody' is not in the config"), (("gpt-4o",), "PROVIDER,MODEL")):
        refused = await ccr("model", "info", *args)
        assert refused.code == 2 and words in refused.err and "Traceback" not in refused.err, refused
