"""GET /v1/models: one answer that both official SDKs parse as their own model list."""

from __future__ import annotations

import aiohttp
import anthropic
import openai
import pytest

from tests.helpers import make_config, openai_provider

IDS = ["deepseek,deepseek-chat", "deepseek,deepseek-reasoner", "gem,gemini-2.5-pro"]


@pytest.fixture
async def ccr(ccr_server):
    config = make_config([openai_provider("http://127.0.0.1:9/v1/chat/completions", "deepseek",
                                          ["deepseek-chat", "deepseek-reasoner"]),
                          openai_provider("http://127.0.0.1:9/v1beta/models/", "gem", ["gemini-2.5-pro"])],
                         {"default": "deepseek,deepseek-chat"}, APIKEY="ccr-secret")
    return await ccr_server(config)


async def test_both_sdks_list_every_provider_model(ccr):
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="ccr-secret", max_retries=0) as client:
        listed = [m async for m in client.models.list()]
        page = await client.models.list(limit=2)
        assert [m.id for m in page.data] == IDS[:2] and page.has_more and page.last_id == IDS[1]
        after = await client.models.list(after_id=IDS[1])
        assert [m.id for m in after.data] == IDS[2:] and not after.has_more
        one = listed[0]
    assert [m.id for m in listed] == IDS
    assert (one.type, one.display_name, one.created_at.year, one.lifecycle) == ("model", "deepseek-chat (deepseek)", 1970, "active")

    async with openai.AsyncOpenAI(base_url=ccr.url + "/v1", api_key="ccr-secret", max_retries=0) as client:
        models = [m async for m in client.models.list()]
    assert [(m.id, m.object, m.owned_by, m.created) for m in models] == [
        (IDS[0], "model", "deepseek", 0), (IDS[1], "model", "deepseek", 0), (IDS[2], "model", "gem", 0)]


async def test_models_need_the_key(ccr):
    async with openai.AsyncOpenAI(base_url=ccr.url + "/v1", api_key="wrong", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="wrong", max_retries=0) as client:
        with pytest.raises(anthropic.AuthenticationError):
            await client.models.list()


async def test_bad_paging(ccr):
    async with aiohttp.ClientSession(headers={"x-api-key": "ccr-secret"}) as session:
        for query in ("limit=0", "limit=x", "after_id=nope,none"):
            async with session.get(ccr.url + "/v1/models?" + query) as resp:
                assert resp.status == 400, query
                body = await resp.json()
                assert body["type"] == "error" and body["error"]["message"].startswith(query.split("=")[0])
