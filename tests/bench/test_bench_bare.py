"""The bare aiohttp converter (bench/bare.py), the baseline ccr's CPU is reported against, does
the same job on the benchmark's workload: every reply passes the benchmark's own checks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench import checks
from bench.bare import make_app, to_openai
from bench.upstream import serve
from bench.workloads import MODES, build, reply_pieces, reply_text

Client = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def fake_upstream() -> AsyncIterator[str]:
    server = await serve()
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"
    server.close()
    await server.wait_closed()


def test_the_claude_code_body_becomes_an_openai_body() -> None:
    body = json.loads(build("claude-code", MODES["stream"]).anthropic_body(7))
    out = to_openai(body)
    roles = [m["role"] for m in out["messages"]]
    assert roles == ["system", "user"] + ["assistant", "tool"] * 4 + ["assistant", "user"]
    assert out["messages"][0]["content"].startswith("x-anthropic-billing-header")
    calls = [c for m in out["messages"] for c in m.get("tool_calls", ())]
    answered = [m["tool_call_id"] for m in out["messages"] if m["role"] == "tool"]
    assert [c["id"] for c in calls] == answered and len(answered) == 4
    assert json.loads(calls[0]["function"]["arguments"]) == {"file_path": "/work/project/src/module_0.py",
                                                            "limit": 200}
    assert [t["function"]["name"] for t in out["tools"]][:3] == ["Task", "Bash", "Glob"]
    assert out["tools"][0]["function"]["parameters"]["type"] == "object"
    assert out["max_tokens"] == 32000 and out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}
    assert "Turn 7:" in out["messages"][-1]["content"]
    assert "stream_options" not in to_openai({**body, "stream": False})


@pytest.mark.parametrize("size", ["small", "claude-code"])
@pytest.mark.parametrize("mode", ["json", "stream", "paced"])
async def test_every_workload_passes_the_checks(fake_upstream: str, aiohttp_client: Client,
                                                size: str, mode: str) -> None:
    client = await aiohttp_client(make_app(fake_upstream))
    workload = build(size, MODES[mode])
    response = await client.post("/v1/messages", data=workload.anthropic_body(1))
    assert response.status == 200
    raw = await response.read()
    check = checks.anthropic_stream if MODES[mode].stream else checks.anthropic_json
    events, problem = check(raw, workload.expected_text)
    assert problem is None
    assert events == (MODES[mode].chunks + 5 if MODES[mode].stream else 0)


async def test_sse_lines_split_across_reads(aiohttp_client: Client) -> None:
    """An upstream that writes its stream a few bytes at a time, cutting lines and UTF-8."""
    pieces = reply_pieces(30)
    sse = "".join(f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': p}}]})}\n\n"
                  for p in pieces)
    sse += 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    sse += 'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":30}}\n\ndata: [DONE]\n\n'
    data = sse.encode()

    async def upstream(request: web.Request) -> web.StreamResponse:
        assert (await request.json())["stream_options"] == {"include_usage": True}
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for at in range(0, len(data), 7):
            await response.write(data[at:at + 7])
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream)
    server = TestServer(app)
    await server.start_server()
    try:
        client = await aiohttp_client(make_app(str(server.make_url("/v1/chat/completions"))))
        body = {"model": "m", "max_tokens": 10, "stream": True,
                "messages": [{"role": "user", "content": "hi"}]}
        response = await client.post("/v1/messages", json=body)
        raw = await response.read()
    finally:
        await server.close()
    events, problem = checks.anthropic_stream(raw, reply_text(30))
    assert problem is None and events == 30 + 5
    assert b"\xe2\x80\xa8" not in raw and b"\\u2028" in raw  # U+2028 escaped, as ccr does
    last = checks.split_events(raw)[-2]
    assert json.loads(last[1])["usage"] == {"input_tokens": 5, "output_tokens": 30}


async def test_an_upstream_error_is_passed_on(fake_upstream: str, aiohttp_client: Client) -> None:
    client = await aiohttp_client(make_app(fake_upstream))
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "no marker"}]}
    response = await client.post("/v1/messages", json=body)
    assert response.status == 400
    error = await response.json()
    assert error["type"] == "error" and "marker" in error["error"]["message"]
