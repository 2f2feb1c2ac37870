"""Fallback routes: a provider that fails before answering hands the request to the next target.

Every provider here is a real aiohttp server on 127.0.0.1; the clients are the official SDKs or
plain HTTP. The circuit breaker's cool-down is shortened through the running app's own
`Health` object (a setting, not a stand-in)."""

from __future__ import annotations

import asyncio
import json
import time

import anthropic
import openai
import pytest
from aiohttp import web

from ccr.config import parse
from ccr.config.fallback import fallbacks
from ccr.errors import ConfigError
from ccr.logs.setup import LOGGING
from ccr.proxy.records import RecordedExchange
from ccr.server.keys import RECORD_OBSERVERS, RUNTIME
from tests.admin.conftest import admin_server  # noqa: F401  (the fixture)
from tests.helpers import free_port, make_config, openai_provider, parse_sse, sse

from .util import USAGE, chat_reply, chunk, json_handler, raw_post, stream_handler

REQUEST = {"model": "claude-sonnet-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
RETRIED = [429, 500, 502, 503, 504, 529]
NOT_RETRIED = [400, 401, 403, 404, 413, 422]


def failing(status: int, headers: dict[str, str] | None = None):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": f"primary says {status}", "type": "x"}},
                                 status=status, headers=headers)
    return handler


def backup_reply(stream: bool):
    if stream:
        return stream_handler(sse(chunk({"role": "assistant", "content": "from backup"}),
                                  chunk({}, finish_reason="stop"), chunk(choices=False, usage=USAGE)))
    return json_handler(chat_reply("from backup", usage=USAGE))


async def pair_of(fake_upstream, ccr_server, primary, backup, *, form: str = "list", **top):
    """Two providers, prim (m1, m2) and backup (m2), with backup as the default's fallback."""
    prim_up = await fake_upstream(primary) if callable(primary) else None
    prim_url = prim_up.url if prim_up else primary
    back_up = await fake_upstream(backup)
    providers = [openai_provider(prim_url, "prim", ["m1", "m2"]), openai_provider(back_up.url, "backup", ["m2"])]
    if form == "list":
        config = make_config(providers, {"default": ["prim,m1", "backup,m2"]}, **top)
    else:
        config = make_config(providers, {"default": "prim,m1"}, fallback={"default": ["backup,m2"]}, **top)
    ccr = await ccr_server(config)
    records: list[RecordedExchange] = []
    ccr.app[RECORD_OBSERVERS].append(records.append)
    return prim_up, back_up, ccr, records


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", RETRIED)
async def test_retried_statuses_go_to_the_fallback(fake_upstream, ccr_server, status, stream):
    prim, back, ccr, records = await pair_of(fake_upstream, ccr_server, failing(status), backup_reply(stream))
    code, headers, raw = await raw_post(ccr.url + "/v1/messages", {**REQUEST, "stream": stream})
    assert code == 200
    assert headers["x-ccr-route"] == "backup,m2; reason=default; fallback"
    text = "".join(d["delta"].get("text", "") for k, d in parse_sse(raw) if k == "content_block_delta") \
        if stream else json.loads(raw)["content"][0]["text"]
    assert text == "from backup"
    assert len(prim.recorder.requests) == 1 and len(back.recorder.requests) == 1
    (record,) = [r.record for r in records]
    assert record.fallback and (record.provider, record.model, record.status) == ("backup", "m2", 200)
    assert [(a.provider, a.model, a.status) for a in record.attempts] == [("prim", "m1", status),
                                                                          ("backup", "m2", 200)]
    assert record.input_tokens == 20


@pytest.mark.parametrize("status", NOT_RETRIED)
async def test_other_client_errors_are_not_retried(fake_upstream, ccr_server, status):
    _prim, back, ccr, records = await pair_of(fake_upstream, ccr_server, failing(status), backup_reply(False))
    code, _headers, raw = await raw_post(ccr.url + "/v1/messages", REQUEST)
    assert code >= 400 and f"primary says {status}" in json.loads(raw)["error"]["message"]
    assert back.recorder.requests == [] and not records[0].record.fallback


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_connection_refused_goes_to_the_fallback(fake_upstream, ccr_server, stream):
    dead = f"http://127.0.0.1:{free_port()}/v1/chat/completions"
    _, _back, ccr, records = await pair_of(fake_upstream, ccr_server, dead, backup_reply(stream), form="table")
    code, headers, _ = await raw_post(ccr.url + "/v1/messages", {**REQUEST, "stream": stream})
    assert code == 200 and headers["x-ccr-route"].endswith("; fallback")
    (attempt, answered) = records[0].record.attempts
    assert attempt.status is None and "cannot connect" in (attempt.error or "") and answered.status == 200


async def test_timeout_before_the_first_byte_goes_to_the_fallback(fake_upstream, ccr_server):
    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    _prim, _back, ccr, _ = await pair_of(fake_upstream, ccr_server, silent, backup_reply(True), API_TIMEOUT_MS=1000)
    code, headers, raw = await raw_post(ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    assert code == 200 and headers["x-ccr-route"].startswith("backup,m2") and b"from backup" in raw


async def test_no_fallback_once_the_stream_has_started(fake_upstream, ccr_server):
    cut = stream_handler(sse(chunk({"role": "assistant", "content": "par"}), done=False)
                         + b'data: {"error": {"message": "overloaded mid-stream"}}\n\n')
    _, back, ccr, records = await pair_of(fake_upstream, ccr_server, cut, backup_reply(True))
    code, _, raw = await raw_post(ccr.url + "/v1/messages", {**REQUEST, "stream": True})
    events = parse_sse(raw)
    assert code == 200 and events[-1][0] == "error" and back.recorder.requests == []
    assert not records[0].record.fallback


async def test_every_target_failing_returns_the_last_failure(fake_upstream, ccr_server):
    _prim, _back, ccr, records = await pair_of(fake_upstream, ccr_server, failing(503), failing(500))
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.InternalServerError) as caught:
            await client.messages.create(**REQUEST)
    assert caught.value.status_code == 500 and caught.value.body["type"] == "error"
    assert "backup,m2" in caught.value.body["error"]["message"]
    async with openai.AsyncOpenAI(base_url=f"{ccr.url}/v1", api_key="k", max_retries=0) as client:
        with pytest.raises(openai.InternalServerError) as chat_caught:
            await client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert "backup,m2" in chat_caught.value.body["message"]  # the OpenAI error shape
    assert [len(r.record.attempts) for r in records] == [2, 2] and all(r.record.status == 500 for r in records)


async def test_chat_completions_fall_back_too(fake_upstream, ccr_server):
    _, _back, ccr, records = await pair_of(fake_upstream, ccr_server, failing(429), backup_reply(True))
    async with openai.AsyncOpenAI(base_url=f"{ccr.url}/v1", api_key="k", max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="x", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-ccr-route"] == "backup,m2; reason=default; fallback"
    assert raw.parse().choices[0].message.content == "from backup" and records[0].record.fallback


async def test_circuit_opens_after_repeated_failures_and_closes_after_cool_down(fake_upstream, ccr_server):
    healthy = asyncio.Event()

    async def primary(request: web.Request) -> web.Response:
        if healthy.is_set():
            return web.json_response(chat_reply("primary is back"))
        return await failing(502)(request)

    prim, _back, ccr, records = await pair_of(fake_upstream, ccr_server, primary, backup_reply(False))
    health = ccr.app[RUNTIME].health
    health.cooldown = 0.5
    for _ in range(health.threshold):
        assert (await raw_post(ccr.url + "/v1/messages", REQUEST))[0] == 200
    assert len(prim.recorder.requests) == health.threshold
    assert (await raw_post(ccr.url + "/v1/messages", REQUEST))[0] == 200  # open: prim is skipped
    assert len(prim.recorder.requests) == health.threshold
    assert records[-1].record.attempts[0].error == "skipped: circuit open"
    healthy.set()
    await asyncio.sleep(0.6)
    code, headers, raw = await raw_post(ccr.url + "/v1/messages", REQUEST)  # half-open: tried again
    assert code == 200 and headers["x-ccr-route"] == "prim,m1; reason=default"
    assert json.loads(raw)["content"][0]["text"] == "primary is back" and not records[-1].record.fallback
    assert health.state() == {}


async def test_retry_after_keeps_the_provider_skipped(fake_upstream, ccr_server):
    prim, _back, ccr, _ = await pair_of(fake_upstream, ccr_server, failing(429, {"Retry-After": "30"}),
                                       backup_reply(False))
    for _ in range(2):
        code, headers, _ = await raw_post(ccr.url + "/v1/messages", REQUEST)
        assert code == 200 and headers["x-ccr-route"].startswith("backup,m2")
    assert len(prim.recorder.requests) == 1  # the second request did not knock again
    assert 25 < ccr.app[RUNTIME].health.state()["prim"]["open_for_s"] <= 30


async def test_retry_after_is_waited_for_before_the_last_target_on_the_same_provider(fake_upstream, ccr_server):
    seen: list[tuple[str, float]] = []

    async def prim(request: web.Request) -> web.Response:
        model = (await request.json())["model"]
        seen.append((model, time.monotonic()))
        if model == "m1":
            return await failing(429, {"Retry-After": "1"})(request)
        return web.json_response(chat_reply("m2 answers"))

    up = await fake_upstream(prim)
    config = make_config([openai_provider(up.url, "prim", ["m1", "m2"])], {"default": ["prim,m1", "prim,m2"]})
    ccr = await ccr_server(config)
    code, headers, _raw = await raw_post(ccr.url + "/v1/messages", REQUEST)
    assert code == 200 and headers["x-ccr-route"] == "prim,m2; reason=default; fallback"
    (first, at1), (second, at2) = seen
    assert (first, second) == ("m1", "m2") and at2 - at1 >= 0.9


def test_both_config_forms_are_validated_like_routes():
    providers = [{"name": "a", "api_base_url": "http://x/v1/chat/completions", "models": ["m"]},
                 {"name": "b", "api_base_url": "http://y/v1/chat/completions", "models": ["n"]}]
    config = parse({"Providers": providers, "Router": {"default": ["a,m", "b,n"], "think": "a,m"},
                    "fallback": {"default": ["a,m"], "think": ["b,n"]}})
    assert config.router.default == "a,m" and config.router.think == "a,m"
    assert fallbacks(config) == {"default": ("b,n", "a,m"), "think": ("b,n",)}
    with pytest.raises(ConfigError) as caught:
        parse({"Providers": providers, "Router": {"default": ["a,m", "nope,x", 5]},
               "fallback": {"default": "b,zz", "sideways": ["a,m"], "think": {"x": 1}}})
    text = str(caught.value)
    for expected in ("Router.default: expected a list", "fallback.default[0]: model 'zz'",
                     "fallback.sideways: not a Router rule", "fallback.think: expected a list"):
        assert expected in text


async def test_a_claude_code_router_2_config_is_read_unchanged(fake_upstream, ccr_server):
    """The shape claude-code-router 2.0 writes: no fallback anywhere, routes as strings."""
    up = await fake_upstream(json_handler(chat_reply("plain", usage=USAGE)))
    raw = {"LOG": True, "API_TIMEOUT_MS": 600000, "NON_INTERACTIVE_MODE": False, "transformers": [],
           "Providers": [{"name": "deepseek", "api_base_url": up.url, "api_key": "sk-x",
                          "models": ["deepseek-chat", "deepseek-reasoner"],
                          "transformer": {"use": ["deepseek"], "deepseek-chat": {"use": ["tooluse"]}}}],
           "Router": {"default": "deepseek,deepseek-chat", "background": "deepseek,deepseek-chat",
                      "think": "deepseek,deepseek-reasoner", "longContext": "deepseek,deepseek-chat",
                      "longContextThreshold": 60000, "webSearch": "", "image": ""},
           "StatusLine": {"enabled": False}}
    config = make_config(**raw)
    assert fallbacks(config) == {}
    ccr = await ccr_server(config)
    code, headers, body = await raw_post(ccr.url + "/v1/messages", REQUEST)
    assert code == 200 and headers["x-ccr-route"] == "deepseek,deepseek-chat; reason=default"
    assert json.loads(body)["content"][0]["text"] == "plain"


async def test_the_log_line_lists_every_attempt(admin_server, fake_upstream):  # noqa: F811
    prim = await fake_upstream(failing(503))
    back = await fake_upstream(backup_reply(False))
    admin = await admin_server({"Providers": [openai_provider(prim.url, "prim", ["m1"]),
                                              openai_provider(back.url, "backup", ["m2"])],
                                "Router": {"default": "prim,m1"}, "fallback": {"default": ["backup,m2"]},
                                "LOG": True}, log=True)
    assert (await raw_post(admin.url + "/v1/messages", REQUEST))[0] == 200
    admin.app[LOGGING].flush()
    [server_log] = sorted(admin.log_dir.glob("ccr-*.log"))
    [line] = [entry for entry in map(json.loads, server_log.read_text().splitlines()) if entry["event"] == "request"]
    assert line["attempts"] == ["prim,m1 503", "backup,m2 200"] and line["fallback"] is True
    assert line["route"] == "backup,m2" and line["status"] == 200
    warned = [e for e in map(json.loads, server_log.read_text().splitlines())
              if e["event"] == "provider failed; trying the next target"]
    assert warned and warned[0]["failed"] == "prim,m1" and warned[0]["next"] == "backup,m2"
