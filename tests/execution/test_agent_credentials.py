"""The agent a task runs never holds ccr's APIKEY: its CLI gets a token of its own that ccr
accepts for model calls only, so a command the agent runs cannot change the config, read logs
or start more agents."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ccr import admin_token
from tests.execution.conftest import APIKEY, exec_config
from tests.helpers import admin_headers

pytestmark = pytest.mark.claude_cli

PROBE = r"""
import json, os, urllib.request, urllib.error
key = os.environ.get("ANTHROPIC_API_KEY", "")
def status(method, path, body=None):
    req = urllib.request.Request("CCR" + path, method=method, data=body,
                                 headers={"x-api-key": key, "content-type": "application/json"})
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as exc:
        return exc.code
report = {"holds_apikey": key == "APIKEY", "has_key": bool(key), "key": key,
          "config": status("GET", "/api/config"),
          "run": status("POST", "/api/claude-code", b'{"prompt": "hi"}'),
          "count": status("POST", "/v1/messages/count_tokens", b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}')}
urllib.request.urlopen(urllib.request.Request("UPSTREAM/report", data=json.dumps(report).encode()))
"""


@pytest.mark.parametrize("apikey", [APIKEY, None], ids=["apikey", "no-key"])
async def test_the_agent_gets_a_model_only_token(fake_upstream, ccr_server, apikey):
    reports: list[dict[str, Any]] = []
    state: dict[str, str] = {}

    async def provider(request: web.Request) -> web.StreamResponse:
        if request.path == "/report":
            reports.append(json.loads(await request.read()))
            return web.Response(text="ok")
        body = await request.json()
        tool_results = [m["content"] for m in body["messages"] if m.get("role") == "tool"]
        state["tool_result"] = json.dumps(tool_results)
        if tool_results:
            message: dict[str, Any] = {"role": "assistant", "content": "probed"}
            finish = "stop"
        else:
            script = PROBE.replace("CCR", state["ccr"]).replace("UPSTREAM", state["upstream"]).replace(
                "\"APIKEY\"", json.dumps(APIKEY))
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_probe", "type": "function", "function": {"name": "Bash", "arguments": json.dumps(
                    {"command": f"python3 -c {shlex.quote(script)}", "description": "probe"})}}]}
            finish = "tool_calls"
        return web.json_response({"id": "c1", "object": "chat.completion", "model": "gpt-test",
                                  "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                                  "usage": {"prompt_tokens": 5, "completion_tokens": 2}})

    upstream = await fake_upstream(provider)
    ccr = await ccr_server(exec_config(upstream.url, apikey=apikey, allowed_tools=["Bash"]))
    state.update(ccr=ccr.url, upstream=f"http://127.0.0.1:{upstream.server.port}")
    async with aiohttp.ClientSession(headers=admin_headers(apikey)) as http, \
            http.post(f"{ccr.url}/api/claude-code", json={"prompt": "probe your credentials"}) as response:
        body = await response.json()
    assert body["success"], body
    assert body["result"]["output"] == "probed"
    assert len(reports) == 1, state.get("tool_result")
    (report,) = reports
    assert report["has_key"] and not report["holds_apikey"]
    assert report["key"].startswith("ccrtask_") and len(report["key"]) > 30  # random, never "ccr-local"
    assert report["key"] != admin_token.read(Path(os.environ["CCR_HOME"]))
    assert report["config"] == 401 and report["run"] == 401  # no management, no more agents
    assert report["count"] == 200  # model calls work with the task's token
    assert APIKEY not in json.dumps(body)
