"""The request inspector, driven by real requests through ccr: the official SDKs as clients, a
fake OpenAI-compatible provider behind it. Off: nothing kept, no bodies captured. On: each
request with the body the client sent, the body sent to the provider and the reply, secrets
redacted, bounded in count and bytes, cleared on demand (GET/DELETE /api/inspector)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web

from ccr.proxy.records import REPLY_CAP, RecordedExchange
from ccr.server.inspector import REDACTED, redact_text
from ccr.server.keys import RECORD_OBSERVERS
from tests.helpers import admin_headers, sse
from tests.transformers.test_image_agent import CONVERSATION
from tests.transformers.test_image_agent import start as image_agent
from tests.transformers.util import chat

from .conftest import Admin, chat_reply, provider

KEY = "sk-upstream-secret-0123456789abcdef"        # the provider's key (conftest.provider)
CLIENT_KEY = "ccr-client-key-abcdefghijklmnopqrstuvwxyz"   # APIKEY, what the clients send


async def openai_compatible(request: web.Request) -> web.StreamResponse:
    """Answers "pong" (JSON, or chunks when asked to stream) with the model it was asked for."""
    body = await request.json()
    model = body.get("model", "")
    if not body.get("stream"):
        return web.json_response(chat_reply("pong", model=model))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    chunk = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": model}
    await response.write(sse(
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "po"}}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "ng"}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}))
    await response.write_eof()
    return response


def config(url: str, **top: Any) -> dict[str, Any]:
    return {"LOG": False, "APIKEY": CLIENT_KEY, "Providers": [provider(url)],
            "Router": {"default": "fake,gpt-test"}, **top}


@pytest.fixture
async def upstream(fake_upstream: Any) -> Any:
    return await fake_upstream(openai_compatible)


def claude(admin: Admin) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=admin.url, api_key=CLIENT_KEY, max_retries=0)


def gpt(admin: Admin) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=admin.url + "/v1", api_key=CLIENT_KEY, max_retries=0)


async def ask(admin: Admin, text: str = "ping", *, stream: bool = False) -> str:
    async with claude(admin) as client:
        messages = [{"role": "user", "content": text}]
        if stream:
            async with client.messages.stream(model="claude-sonnet-5", max_tokens=50, messages=messages) as s:
                return "".join([t async for t in s.text_stream])
        reply = await client.messages.create(model="claude-sonnet-5", max_tokens=50, messages=messages)
        return "".join(b.text for b in reply.content if b.type == "text")


async def entries(admin: Admin) -> list[dict[str, Any]]:
    status, listing, _ = await admin.call("GET", "/api/inspector")
    assert status == 200, listing
    return list(listing["entries"])


async def newest(admin: Admin) -> dict[str, Any]:
    listed = await entries(admin)
    assert listed, "nothing recorded"
    status, entry, _ = await admin.call("GET", f"/api/inspector/{listed[0]['id']}")
    assert status == 200, entry
    return dict(entry)


def no_secrets(entry: dict[str, Any]) -> None:
    everything = json.dumps(entry)
    for secret in (KEY, CLIENT_KEY):
        assert secret not in everything, secret


async def test_off_nothing_is_kept_and_no_bodies_are_captured(admin_server, upstream):
    admin = await admin_server(config(upstream.url))
    seen: list[RecordedExchange] = []
    admin.app[RECORD_OBSERVERS].append(seen.append)   # an observer of the pipeline, like the ledger
    assert await ask(admin) == "pong"
    assert await ask(admin, stream=True) == "pong"
    status, listing, _ = await admin.call("GET", "/api/inspector")
    assert status == 200 and listing["enabled"] is False and listing["entries"] == [] and listing["bytes"] == 0
    assert [e.record.stream for e in seen] == [False, True]
    assert all(e.client_body is None and e.provider_body is None and e.reply is None for e in seen)


async def test_on_a_json_request_is_kept_with_all_three_bodies_redacted(admin_server, upstream):
    admin = await admin_server(config(upstream.url, INSPECTOR=True))
    assert await ask(admin, f"my keys are {KEY} and {CLIENT_KEY}") == "pong"
    entry = await newest(admin)
    no_secrets(entry)
    assert entry["front"] == "anthropic" and entry["stream"] is False and entry["status"] == 200
    assert (entry["provider"], entry["model"], entry["route_reason"]) == ("fake", "gpt-test", "default")
    client = json.loads(entry["client_body"])
    assert client["model"] == "claude-sonnet-5"
    assert client["messages"][0]["content"] == f"my keys are {REDACTED} and {REDACTED}"
    sent, got = json.loads(entry["provider_body"]), upstream.recorder.last   # what the provider got
    assert sent["model"] == got["model"] == "gpt-test"
    assert json.dumps(sent) == json.dumps(got).replace(KEY, REDACTED).replace(CLIENT_KEY, REDACTED)
    assert upstream.recorder.headers[-1]["Authorization"] == f"Bearer {KEY}"   # sent, never kept
    reply = json.loads(entry["reply"])
    assert reply["type"] == "message" and reply["content"][0]["text"] == "pong"


async def test_on_a_streamed_request_keeps_the_events_written(admin_server, upstream):
    admin = await admin_server(config(upstream.url, INSPECTOR=True))
    assert await ask(admin, "stream please", stream=True) == "pong"
    entry = await newest(admin)
    no_secrets(entry)
    assert entry["stream"] is True and entry["status"] == 200
    assert json.loads(entry["client_body"])["stream"] is True
    assert json.loads(entry["provider_body"]) == upstream.recorder.last
    reply = entry["reply"]
    assert reply.startswith("event: message_start") and "message_stop" in reply
    assert '"text":"po"' in reply.replace(" ", "") and '"text":"ng"' in reply.replace(" ", "")


@pytest.mark.parametrize("stream", [False, True])
async def test_the_openai_front_door_is_kept_too(admin_server, upstream, stream):
    admin = await admin_server(config(upstream.url, INSPECTOR=True))
    async with gpt(admin) as client:
        messages = [{"role": "user", "content": f"key {KEY}"}]
        if stream:
            chunks = await client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        else:
            done = await client.chat.completions.create(model="gpt-4o", messages=messages)
            text = done.choices[0].message.content or ""
    assert text == "pong"
    entry = await newest(admin)
    no_secrets(entry)
    assert entry["front"] == "openai" and entry["stream"] is stream
    assert json.loads(entry["client_body"])["model"] == "gpt-4o"
    assert json.loads(entry["provider_body"])["model"] == "gpt-test"
    if stream:
        assert '"chat.completion.chunk"' in entry["reply"] and entry["reply"].rstrip().endswith("data: [DONE]")
    else:
        assert json.loads(entry["reply"])["choices"][0]["message"]["content"] == "pong"


async def test_a_refused_request_is_kept_with_its_error(admin_server, upstream):
    admin = await admin_server(config(upstream.url, INSPECTOR=True))
    async with claude(admin) as client:
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.create(model="claude-sonnet-5", max_tokens=50,
                                         messages=[{"role": "robot", "content": "hi"}])
    entry = await newest(admin)
    assert entry["status"] == 400 and entry["provider_body"] == "" and upstream.recorder.requests == []
    assert json.loads(entry["client_body"])["messages"][0]["role"] == "robot"
    reply = json.loads(entry["reply"])
    assert reply["type"] == "error" and reply["error"]["type"] == "invalid_request_error"
    assert reply["error"]["message"] == entry["error"]


async def test_a_fallback_keeps_the_body_sent_to_the_last_target(admin_server, fake_upstream, upstream):
    async def busy(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "overloaded"}}, status=503)

    down = await fake_upstream(busy)
    raw = config(upstream.url, INSPECTOR=True)
    raw["Providers"] = [provider(down.url, "first"), provider(upstream.url, "second", ["gpt-other"])]
    raw["Router"] = {"default": ["first,gpt-test", "second,gpt-other"]}
    admin = await admin_server(raw)
    assert await ask(admin) == "pong"
    entry = await newest(admin)
    assert entry["fallback"] is True and [a["status"] for a in entry["attempts"]] == [503, 200]
    assert json.loads(entry["provider_body"])["model"] == "gpt-other"


async def test_the_image_agent_keeps_the_body_of_its_last_call(fake_upstream, ccr_server):
    async def vision(request: web.Request) -> web.Response:
        return web.json_response(chat("The button is green."))

    text_up, vision_up, ccr = await image_agent(fake_upstream, ccr_server, vision, INSPECTOR=True)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=200, messages=CONVERSATION)
    async with aiohttp.ClientSession(headers=admin_headers()) as http:
        async with http.get(f"{ccr.url}/api/inspector") as resp:
            (listed,) = (await resp.json())["entries"]
        async with http.get(f"{ccr.url}/api/inspector/{listed['id']}") as resp:
            entry = await resp.json()
    assert len(text_up.recorder.requests) == 2 and len(vision_up.recorder.requests) == 1
    assert json.loads(entry["provider_body"]) == text_up.recorder.last   # the text model's second call
    assert "Answer from analysis: The button is green." in entry["reply"]
    assert json.loads(entry["client_body"])["messages"][2]["content"] == "What colour is the button?"


async def test_count_and_bytes_are_bounded_and_clear_forgets(admin_server, upstream):
    admin = await admin_server(config(upstream.url, INSPECTOR=True, INSPECTOR_MAX_REQUESTS=3))
    for n in range(5):
        await ask(admin, f"question {n}")
    listed = await entries(admin)
    assert len(listed) == 3                                            # the newest three, newest first
    firsts = [json.loads((await admin.call("GET", f"/api/inspector/{e['id']}"))[1]["client_body"])
              for e in listed]
    assert [f["messages"][0]["content"] for f in firsts] == ["question 4", "question 3", "question 2"]
    status, _, _ = await admin.call("GET", f"/api/inspector/{listed[-1]['id'] - 1}")
    assert status == 404                                               # the oldest were dropped
    status, cleared, _ = await admin.call("DELETE", "/api/inspector")
    assert status == 200 and cleared == {"cleared": 3} and await entries(admin) == []


async def test_big_bodies_are_cut_within_the_byte_budget(admin_server, upstream):
    budget = 64 * 1024
    admin = await admin_server(config(upstream.url, INSPECTOR=True, INSPECTOR_MAX_BYTES=budget))
    for n in range(3):
        await ask(admin, f"{n} " + "x" * 40_000)
    status, listing, _ = await admin.call("GET", "/api/inspector")
    assert status == 200 and 0 < listing["bytes"] <= budget
    assert sum(e["bytes"] for e in listing["entries"]) == listing["bytes"]
    entry = await newest(admin)
    assert entry["truncated"] is True and '"content":"2 xxx' in entry["client_body"]
    assert entry["bytes"] <= budget


async def test_a_reply_is_kept_up_to_its_cap(admin_server, fake_upstream):
    async def wordy(request: web.Request) -> web.Response:
        return web.json_response(chat_reply("w" * (REPLY_CAP + 1000)))

    up = await fake_upstream(wordy)
    admin = await admin_server(config(up.url, INSPECTOR=True, INSPECTOR_MAX_BYTES=16 * 1024 * 1024))
    assert len(await ask(admin)) == REPLY_CAP + 1000
    entry = await newest(admin)
    assert entry["truncated"] is True and len(entry["reply"]) == REPLY_CAP    # cut, and said so
    assert entry["reply"].startswith('{"id":') and json.loads(entry["client_body"])["model"] == "claude-sonnet-5"


async def test_a_restart_switches_the_inspector_on_and_off(admin_server, upstream):
    admin = await admin_server(config(upstream.url))
    await ask(admin, "before")
    status, body, _ = await admin.call("POST", "/api/config", json_body=config(upstream.url, INSPECTOR=True))
    assert status == 200, body
    status, body, _ = await admin.call("POST", "/api/restart")
    assert status == 200, body
    await ask(admin, "after")
    listed = await entries(admin)
    assert len(listed) == 1
    entry = await newest(admin)
    assert json.loads(entry["client_body"])["messages"][0]["content"] == "after" and entry["reply"]

    seen: list[RecordedExchange] = []
    admin.app[RECORD_OBSERVERS].append(seen.append)
    status, body, _ = await admin.call("POST", "/api/config", json_body=config(upstream.url))
    assert status == 200, body
    status, body, _ = await admin.call("POST", "/api/restart")
    assert status == 200, body
    await ask(admin, "off again")
    assert [e["id"] for e in await entries(admin)] == [entry["id"]]   # kept until cleared, nothing new
    assert len(seen) == 1 and seen[0].client_body is None and seen[0].reply is None   # no bodies copied


def test_redact_text_leaves_non_json_bodies_as_text():
    sse_text = "event: message_start\ndata: {\"x\": \"Bearer abcdefghijkl0123\"}\n\n"
    assert redact_text(sse_text) == "event: message_start\ndata: {\"x\": \"Bearer [redacted]\"}\n\n"


def test_redact_text_hides_secret_fields_bearer_tokens_and_sk_keys():
    text = json.dumps({"api_key": "plain-secret", "metadata": {"authorization": "Basic xyz"}, "max_tokens": 50,
                       "note": "Bearer abcdefghijkl0123 and sk-live-abcdefghijklmnop"})
    shown = json.loads(redact_text(text, [KEY]))
    assert shown["api_key"] == REDACTED and shown["metadata"]["authorization"] == REDACTED
    assert shown["max_tokens"] == 50                                   # numbers with "token" in the name stay
    assert shown["note"] == f"Bearer {REDACTED} and {REDACTED}"


@pytest.mark.parametrize("entry", ["999", "abc", "-1"])
async def test_an_unknown_entry_is_a_404(admin_server, entry):
    admin = await admin_server(config("http://127.0.0.1:9/v1/chat/completions", INSPECTOR=True))
    status, body, _ = await admin.call("GET", f"/api/inspector/{entry}")
    assert status == 404 and body["type"] == "error" and body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("top,needle", [({"INSPECTOR": "yes"}, "INSPECTOR"),
                                        ({"INSPECTOR_MAX_REQUESTS": 0}, "INSPECTOR_MAX_REQUESTS"),
                                        ({"INSPECTOR_MAX_BYTES": 10}, "INSPECTOR_MAX_BYTES")])
async def test_bad_inspector_settings_are_refused(admin_server, top, needle):
    url = "http://127.0.0.1:9/v1/chat/completions"
    admin = await admin_server(config(url))
    status, body, _ = await admin.call("POST", "/api/config", json_body=config(url, **top))
    assert status == 400 and any(p.startswith(needle) for p in body["error"]["problems"]), body
