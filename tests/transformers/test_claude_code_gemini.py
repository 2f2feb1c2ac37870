"""The real Claude Code CLI through ccr's gemini dialect: a Gemini 3 tool loop where the
function call's thoughtSignature must come back on the next request (Gemini answers 400
"Function call is missing a thought_signature" otherwise, claude-code-router #1032)."""

from __future__ import annotations

import pytest

from tests.helpers import run_claude, sse

from .util import assert_gemini_request, setup, streaming

pytestmark = pytest.mark.claude_cli

SIG = "EjQKMgG/+thought+signature+from+gemini+3+pr/AAAA"


def gemini(body: dict) -> bytes:
    calls = [p for c in body["contents"] for p in c["parts"] if "functionCall" in p]
    results = [p for c in body["contents"] for p in c["parts"] if "functionResponse" in p]
    if not results:
        return sse(
            {"candidates": [{"content": {"role": "model", "parts": [
                {"text": "The user wants me to run echo.", "thought": True}]}}]},
            {"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "Bash", "args": {"command": "echo hi-from-gemini",
                                                           "description": "say hi"}},
                 "thoughtSignature": SIG}]}, "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 900, "candidatesTokenCount": 20, "totalTokenCount": 920}}, done=False)
    if calls[-1].get("thoughtSignature") != SIG:
        return sse({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                   "message": "Function call is missing a thought_signature in functionCall parts."}}, done=False)
    output = results[-1]["functionResponse"]["response"]["result"]
    return sse({"candidates": [{"content": {"role": "model", "parts": [{"text": f"Tool said: {str(output).strip()}"}]},
                                     "finishReason": "STOP"}],
                     "usageMetadata": {"promptTokenCount": 950, "candidatesTokenCount": 5, "totalTokenCount": 955}}, done=False)


async def test_gemini3_tool_loop_with_the_real_cli(fake_upstream, ccr_server, tmp_path):
    pair = await setup(fake_upstream, ccr_server, streaming(gemini), use=["gemini"], model="gemini-3-pro-preview",
                       path="/v1beta/models/", APIKEY="ccr-key")
    result = await run_claude(pair.ccr.url, tmp_path, "run echo", "--allowedTools", "Bash")
    assert result["is_error"] is False, result
    assert result["result"] == "Tool said: hi-from-gemini"
    last = pair.sent
    assert_gemini_request(last)
    model_turn = [c for c in last["contents"] if c["role"] == "model"][-1]
    assert model_turn["parts"][-1]["thoughtSignature"] == SIG
