"""What an OpenAI-compatible provider receives for each kind of Anthropic request.

Every case goes through the official `anthropic` SDK and ccr to a real fake provider, and the
body the provider received is checked twice: against the expected mapping, and key for key
against the `openai` SDK's request types (so no Anthropic-only field leaks through).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from .util import assert_openai_request, raw_post

IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
BASH = {"name": "Bash", "description": "Run a command", "input_schema": SCHEMA}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


# (id, Anthropic request fields, expected upstream `messages`)
MESSAGE_CASES = [
    ("system-string", {"system": "Be brief.", "messages": [user("hi")]},
     [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]),
    ("system-blocks-cache-control", {
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.330;"},
                   {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Main prompt", "cache_control": {"type": "ephemeral"}}],
        "messages": [user([{"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                           {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}])]},
     [{"role": "system", "content": "x-anthropic-billing-header: cc_version=2.1.330;\nYou are Claude Code.\nMain prompt"},
      {"role": "user", "content": "<system-reminder>ctx</system-reminder>\nhello"}]),
    ("system-role-leading", {"system": "base", "messages": [
        {"role": "system", "content": "extra"}, user("hi")]},
     [{"role": "system", "content": "base\nextra"}, {"role": "user", "content": "hi"}]),
    ("system-role-mid-conversation", {"messages": [
        user("hi"), {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
        {"role": "assistant", "content": "ok"}, user("next")]},
     [{"role": "user", "content": "hi"},
      {"role": "user", "content": "<system-reminder>\n# Environment\n</system-reminder>"},
      {"role": "assistant", "content": "ok"}, {"role": "user", "content": "next"}]),
    ("images-base64-and-url", {"messages": [user([
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": IMAGE}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "text", "text": "what is this?"}])]},
     [{"role": "user", "content": [
         {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{IMAGE}"}},
         {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
         {"type": "text", "text": "what is this?"}]}]),
    ("tool-use-and-results", {"tools": [BASH], "messages": [
        user("list files"),
        {"role": "assistant", "content": [
            {"type": "text", "text": "Running two tools."},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {"command": "rm -rf /"}}]},
        user([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt\nb.txt"},
              {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
               "content": "Permission denied"},
              {"type": "text", "text": "go on"}])]},
     [{"role": "user", "content": "list files"},
      {"role": "assistant", "content": "Running two tools.", "tool_calls": [
          {"id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}},
          {"id": "toolu_2", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"rm -rf /"}'}}]},
      {"role": "tool", "tool_call_id": "toolu_1", "content": "a.txt\nb.txt"},
      {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: Permission denied"},
      {"role": "user", "content": "go on"}]),
    ("tool-result-with-image-and-blocks", {"tools": [BASH], "messages": [
        user("shot"),
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_9", "name": "Bash", "input": {"command": "shot"}}]},
        user([{"type": "tool_result", "tool_use_id": "toolu_9", "content": [
            {"type": "text", "text": "screenshot taken"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": IMAGE}}]}])]},
     [{"role": "user", "content": "shot"},
      {"role": "assistant", "content": None, "tool_calls": [
          {"id": "toolu_9", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"shot"}'}}]},
      {"role": "tool", "tool_call_id": "toolu_9", "content": "screenshot taken"},
      {"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{IMAGE}"}}]}]),
    ("error-result-without-text", {"tools": [BASH], "messages": [
        user("x"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        user([{"type": "tool_result", "tool_use_id": "t1", "is_error": True}])]},
     [{"role": "user", "content": "x"},
      {"role": "assistant", "content": None, "tool_calls": [
          {"id": "t1", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "t1", "content": "Error"}]),
]


@pytest.mark.parametrize("fields,expected", [c[1:] for c in MESSAGE_CASES], ids=[c[0] for c in MESSAGE_CASES])
async def test_messages_mapping(proxy, fields, expected):
    pair = await proxy()
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="client-key") as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=50, **fields)
    assert pair.sent["messages"] == expected
    assert_openai_request(pair.sent)


TOOL_CHOICES = [
    ({"type": "auto"}, "auto", None),
    ({"type": "any"}, "required", None),
    ({"type": "tool", "name": "Bash"}, {"type": "function", "function": {"name": "Bash"}}, None),
    ({"type": "none"}, "none", None),
    ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
]


@pytest.mark.parametrize("choice,expected,parallel", TOOL_CHOICES,
                         ids=["auto", "any", "tool", "none", "no-parallel"])
async def test_tools_and_tool_choice(proxy, choice, expected, parallel):
    pair = await proxy()
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k") as client:
        await client.messages.create(model="claude-sonnet-5", max_tokens=50, tools=[BASH],
                                     tool_choice=choice, messages=[user("hi")])
    assert pair.sent["tools"] == [{"type": "function", "function": {
        "name": "Bash", "description": "Run a command", "parameters": SCHEMA}}]
    assert pair.sent["tool_choice"] == expected
    assert pair.sent.get("parallel_tool_calls") == parallel
    assert_openai_request(pair.sent)


async def test_deferred_and_server_tools(proxy):
    pair = await proxy()
    tools = [
        BASH,
        {"name": "DeferredToolPlaceholder", "description": "loaded later", "defer_loading": True,
         "input_schema": {"type": "object", "properties": {}}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"name": "NoSchema", "description": "", "input_schema": {"type": "object"},
         "cache_control": {"type": "ephemeral"}},
    ]
    status, _, raw = await raw_post(f"{pair.ccr.url}/v1/messages", {
        "model": "claude-sonnet-5", "max_tokens": 10, "tools": tools, "messages": [user("hi")]})
    assert status == 200, raw
    sent = pair.sent["tools"]
    assert [t["function"]["name"] for t in sent] == ["Bash", "DeferredToolPlaceholder", "web_search", "NoSchema"]
    assert sent[1] == {"type": "function", "function": {
        "name": "DeferredToolPlaceholder", "description": "loaded later",
        "parameters": {"type": "object", "properties": {}}}}
    assert sent[2]["function"]["parameters"]["required"] == ["query"]
    assert_openai_request(pair.sent)


# (id, model routed to, request fields, expected reasoning_effort or None)
REASONING_CASES = [
    ("enabled-budget-medium", "gpt-test", {"thinking": {"type": "enabled", "budget_tokens": 4000}}, "medium"),
    ("enabled-budget-minimal", "gpt-test", {"thinking": {"type": "enabled", "budget_tokens": 1024}}, "minimal"),
    ("enabled-budget-low", "gpt-test", {"thinking": {"type": "enabled", "budget_tokens": 2048}}, "low"),
    ("enabled-budget-high", "gpt-test", {"thinking": {"type": "enabled", "budget_tokens": 20000}}, "high"),
    ("enabled-effort-wins", "gpt-test", {"thinking": {"type": "enabled", "budget_tokens": 2000},
                                         "output_config": {"effort": "high"}}, "high"),
    ("adaptive-plain-model", "gpt-test", {"thinking": {"type": "adaptive"},
                                          "output_config": {"effort": "low"}}, None),
    ("adaptive-reasoning-model", "gpt-5-mini", {"thinking": {"type": "adaptive"},
                                                "output_config": {"effort": "low"}}, "low"),
    ("effort-only-o-series", "o4-mini", {"output_config": {"effort": "medium"}}, "medium"),
    ("effort-max-clamped", "gpt-5-mini", {"output_config": {"effort": "max"}}, "high"),
    ("disabled-reasoning-model", "gpt-5-mini", {"thinking": {"type": "disabled"},
                                                "output_config": {"effort": "high"}}, None),
    ("nothing", "gpt-5-mini", {}, None),
]


@pytest.mark.parametrize("model,fields,expected", [c[1:] for c in REASONING_CASES],
                         ids=[c[0] for c in REASONING_CASES])
async def test_thinking_and_effort(proxy, model, fields, expected):
    pair = await proxy(models=[model])
    body = {"model": "claude-sonnet-5", "max_tokens": 30000, "messages": [user("think")], **fields}
    status, _, raw = await raw_post(f"{pair.ccr.url}/v1/messages", body)
    assert status == 200, raw
    assert pair.sent.get("reasoning_effort") == expected
    assert "thinking" not in pair.sent and "reasoning" not in pair.sent and "output_config" not in pair.sent
    assert_openai_request(pair.sent)


async def test_sampling_fields(proxy):
    pair = await proxy()
    status, _, raw = await raw_post(f"{pair.ccr.url}/v1/messages", {
        "model": "claude-sonnet-5", "max_tokens": 123, "temperature": 0.3, "top_p": 0.9, "top_k": 40,
        "stop_sequences": ["END", "STOP"], "messages": [user("hi")]})
    assert status == 200, raw
    sent = pair.sent
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"], sent["stop"]) == (123, 0.3, 0.9, ["END", "STOP"])
    assert sent["stream"] is False and "top_k" not in sent
    assert_openai_request(sent)


def claude_code_body(stream: bool) -> dict[str, Any]:
    """A request shaped like Claude Code 2.1.330's (reference claude-code-cli.md section 8)."""
    return {
        "model": "claude-sonnet-5",
        "max_tokens": 128000,
        "stream": stream,
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.330; cc_entrypoint=sdk-cli;"},
                   {"type": "text", "text": "You are a Claude agent.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Main prompt", "cache_control": {"type": "ephemeral"}}],
        "messages": [user([{"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                           {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]),
                     {"role": "system", "content": "# Environment\ncwd: /tmp"}],
        "tools": [BASH, {"name": "ToolSearch", "description": "find tools", "input_schema": {"type": "object"}},
                  {"name": "DeferredToolPlaceholder", "description": "d", "defer_loading": True,
                   "input_schema": {"type": "object"}}],
        "metadata": {"user_id": json.dumps({"device_id": "d1", "account_uuid": "", "session_id": "s-1"})},
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
    }


CLAUDE_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
    "x-app": "cli", "User-Agent": "claude-cli/2.1.330 (external, sdk-cli)",
    "X-Claude-Code-Session-Id": "3f1c1d7e-0000-4000-8000-000000000001",
    "anthropic-dangerous-direct-browser-access": "true",
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_claude_code_request_with_both_auth_headers(proxy, stream):
    """?beta=true, betas, both auth headers (APIKEY set), session header: all accepted;
    metadata, context_management, thinking, output_config never reach the provider."""
    pair = await proxy(APIKEY="ccr-secret")
    headers = {**CLAUDE_HEADERS, "x-api-key": "ccr-secret", "Authorization": "Bearer ccr-secret"}
    status, resp_headers, raw = await raw_post(f"{pair.ccr.url}/v1/messages?beta=true",
                                               claude_code_body(stream), headers)
    assert status == 200, raw
    assert resp_headers["x-ccr-route"].startswith("fake,gpt-test; reason=default")
    sent = pair.sent
    assert_openai_request(sent)
    assert sent["messages"][0] == {"role": "system", "content":
                                   "x-anthropic-billing-header: cc_version=2.1.330; cc_entrypoint=sdk-cli;\n"
                                   "You are a Claude agent.\nMain prompt"}
    assert sent["messages"][-1]["content"] == "<system-reminder>\n# Environment\ncwd: /tmp\n</system-reminder>"
    assert [t["function"]["name"] for t in sent["tools"]] == ["Bash", "ToolSearch", "DeferredToolPlaceholder"]
    assert "reasoning_effort" not in sent  # adaptive thinking on a plain model: nothing to send
    upstream_headers = {k.lower(): v for k, v in pair.up.recorder.headers[-1].items()}
    assert upstream_headers["authorization"] == "Bearer sk-upstream-secret"
    assert "x-api-key" not in upstream_headers and "anthropic-beta" not in upstream_headers
    assert "ccr-secret" not in json.dumps(upstream_headers)


async def test_beta_client_with_sdk(proxy):
    """The SDK's beta namespace (what Claude Code uses) posts to /v1/messages?beta=true."""
    pair = await proxy()
    async with anthropic.AsyncAnthropic(base_url=pair.ccr.url, api_key="k") as client:
        message = await client.beta.messages.create(
            model="claude-sonnet-5", max_tokens=100, betas=["context-management-2025-06-27"],
            context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            thinking={"type": "adaptive"}, messages=[user("hi")],
            extra_headers={"X-Claude-Code-Session-Id": "abc"})
    assert message.content[0].text == "Hello"
    assert pair.up.recorder.paths[-1] == "/v1/chat/completions"
    assert_openai_request(pair.sent)


async def test_head_probe(proxy):
    pair = await proxy(APIKEY="secret")
    import aiohttp
    async with aiohttp.ClientSession() as session:
        async with session.head(pair.ccr.url + "/") as resp:
            assert resp.status == 200


async def test_provider_cookies_are_not_replayed(fake_upstream, ccr_server):
    """ccr is a shared proxy: a cookie one provider reply sets must not ride along on the next
    request (of another client, or with another key of the pool)."""
    from aiohttp import web

    from tests.helpers import make_config, openai_provider

    from .util import USAGE, chat_reply

    async def handler(request: web.Request) -> web.Response:
        response = web.json_response(chat_reply(usage=USAGE))
        response.set_cookie("affinity", "client-a", path="/")
        return response

    up = await fake_upstream(handler)
    # by name, not by IP: cookie jars ignore cookies of IP addresses
    spec = openai_provider(up.url.replace("127.0.0.1", "localhost"))
    ccr = await ccr_server(make_config([spec], {"default": "fake,gpt-test"}))
    request = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(2):
        status, _, _ = await raw_post(ccr.url + "/v1/messages", request)
        assert status == 200
    assert len(up.recorder.headers) == 2
    assert all("Cookie" not in headers for headers in up.recorder.headers)
