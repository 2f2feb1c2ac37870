"""An upstream failure is one warning line in the log, not two."""

from __future__ import annotations

import json

import anthropic
import pytest
from aiohttp import web

from ccr.logs.setup import LOGGING

from .conftest import provider


async def test_an_upstream_failure_is_logged_once(admin_server, fake_upstream):
    async def broken(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "the provider is down"}}, status=503)

    upstream = await fake_upstream(broken)
    admin = await admin_server({"LOG": True, "Providers": [provider(upstream.url)],
                                "Router": {"default": "fake,gpt-test"}}, log=True)
    async with anthropic.AsyncAnthropic(base_url=admin.url, api_key="unused", max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as failed:
            await client.messages.create(model="claude-sonnet-5", max_tokens=10,
                                         messages=[{"role": "user", "content": "ping"}])
    request_id = failed.value.response.headers["request-id"]
    admin.app[LOGGING].flush()
    [server_log] = sorted(admin.log_dir.glob("ccr-*.log"))
    lines = [json.loads(line) for line in server_log.read_text().splitlines() if line.strip()]
    about = [line for line in lines if line.get("request_id") == request_id and line.get("level") in ("warning", "error")]
    assert len(about) == 1, about
    assert "503" in json.dumps(about[0])
