"""/v1/chat/completions requests get the canonical `request` log line (marked api=openai) and a
routing-log line, like /v1/messages ones, and no secret reaches a log."""

from __future__ import annotations

import json

import openai

from ccr.logs.setup import LOGGING
from tests.admin.conftest import admin_server, provider  # noqa: F401  (the fixture)
from tests.core.util import USAGE, chat_reply, json_handler

APIKEY = "ccr-openai-key-5b1d9e77"


async def test_request_line_and_routing_log(admin_server, fake_upstream):  # noqa: F811
    up = await fake_upstream(json_handler(chat_reply("hi", usage=USAGE)))
    admin = await admin_server({"Providers": [provider(up.url)], "Router": {"default": "fake,gpt-test"},
                                "APIKEY": APIKEY, "LOG": True}, log=True)
    async with openai.AsyncOpenAI(base_url=admin.url + "/v1", api_key=APIKEY, max_retries=0) as client:
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    admin.app[LOGGING].flush()
    [server_log] = sorted(admin.log_dir.glob("ccr-*.log"))
    lines = [json.loads(line) for line in server_log.read_text().splitlines() if line.strip()]
    [line] = [entry for entry in lines if entry["event"] == "request"]
    assert line["logger"] == "ccr.messages" and line["api"] == "openai" and line["route"] == "fake,gpt-test"
    assert (line["status"], line["input_tokens"], line["output_tokens"]) == (200, 20, 5)
    routing = [json.loads(x) for x in (admin.log_dir / "claude-code-router.log").read_text().splitlines()]
    assert [r["request_id"] for r in routing] == [line["request_id"]]
    for path in admin.log_dir.iterdir():
        assert APIKEY not in path.read_text() and "0123456789abcdef" not in path.read_text()
