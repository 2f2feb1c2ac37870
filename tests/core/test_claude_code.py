"""The real Claude Code CLI through ccr to a fake OpenAI-compatible provider: a plain answer and
a tool loop (the CLI runs the tool and sends its result back)."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from tests.helpers import run_claude, sse

from .util import chunk, tool_call_delta

pytestmark = pytest.mark.claude_cli


async def test_plain_answer(proxy, tmp_path):
    payload = sse(chunk({"role": "assistant", "content": "Hello from "}), chunk({"content": "the fake provider"}),
                  chunk(finish_reason="stop", usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}))

    async def handler(request):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(payload)
        return response

    pair = await proxy(handler, APIKEY="ccr-key")
    result = await run_claude(pair.ccr.url, tmp_path, "say hello")
    assert result["is_error"] is False, result
    assert result["result"] == "Hello from the fake provider"
    sent = pair.sent
    assert sent["model"] == "gpt-test" and sent["stream"] is True
    assert sent["messages"][0]["role"] == "system"
    assert any("say hello" in json.dumps(m) for m in sent["messages"])


async def test_tool_loop(proxy, tmp_path):
    async def handler(request):
        body = await request.json()
        tool_results = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_results:
            chunks = [chunk({"role": "assistant", "reasoning_content": "I will run echo."}),
                      chunk({"tool_calls": [tool_call_delta(0, id="call_echo", name="Bash",
                                                            arguments='{"command": "echo hi-from-tool",')]}),
                      chunk({"tool_calls": [tool_call_delta(0, arguments=' "description": "say hi"}')]}),
                      chunk(finish_reason="tool_calls")]
        else:
            chunks = [chunk({"content": f"The tool said: {tool_results[-1]['content'].strip()}"}),
                      chunk(finish_reason="stop")]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(*chunks))
        return response

    pair = await proxy(handler, APIKEY="ccr-key", models=["deepseek-reasoner"])
    result = await run_claude(pair.ccr.url, tmp_path, "run echo", "--allowedTools", "Bash")
    assert result["is_error"] is False, result
    assert result["result"] == "The tool said: hi-from-tool"
    second = pair.sent["messages"]
    assistant = next(m for m in second if m.get("tool_calls"))
    assert assistant["tool_calls"][0]["id"] == "call_echo"
    assert assistant["reasoning_content"] == "I will run echo."  # the round trip, through the real CLI
    assert {"role": "tool", "tool_call_id": "call_echo", "content": "hi-from-tool"} in second
