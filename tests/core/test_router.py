"""Every Router rule in claude-code-router's order, seen from the outside: the model the
provider received and the `x-ccr-route` header."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import structlog

from tests.helpers import make_config, openai_provider

from .util import USAGE, chat_reply, json_handler, raw_post

MODELS = ["m-default", "m-long", "m-bg", "m-web", "m-think", "m-image", "m-sub", "M-Mixed"]
ROUTER = {"default": "p,m-default", "longContext": "p,m-long", "longContextThreshold": 1000,
          "background": "p,m-bg", "webSearch": "p,m-web", "think": "p,m-think", "image": "p,m-image"}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
WEB = {"type": "web_search_20250305", "name": "web_search"}
LONG = "hello " * 1500  # about 1500 tokens, over the threshold of 1000
TAG = "<CCR-SUBAGENT-MODEL>p,m-sub</CCR-SUBAGENT-MODEL>"


def body(content: Any = "hi", **fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [{"role": "user", "content": content}],
            **fields}


def system_with_tag(position: int) -> list[dict[str, Any]]:
    blocks = [{"type": "text", "text": "billing"}, {"type": "text", "text": "identity"},
              {"type": "text", "text": "main prompt"}]
    blocks[position]["text"] = TAG + "You are a subagent."
    return blocks


# (id, request body, expected model, expected reason)
CASES = [
    ("default", body(), "m-default", "default"),
    ("explicit", body(model="p,m-web"), "m-web", "explicit"),
    ("explicit-case-insensitive", body(model="P,m-mixed"), "M-Mixed", "explicit"),
    ("explicit-beats-long-context", body(LONG, model="p,m-think"), "m-think", "explicit"),
    ("long-context", body(LONG), "m-long", "longContext"),
    ("long-context-beats-subagent", body(LONG, system=system_with_tag(1)), "m-long", "longContext"),
    ("subagent-system-1", body(system=system_with_tag(1)), "m-sub", "subagent"),
    ("subagent-system-2", body(system=system_with_tag(2)), "m-sub", "subagent"),
    ("subagent-system-string", body(system=TAG + "agent"), "m-sub", "subagent"),
    ("subagent-beats-haiku", body(model="claude-haiku-4-5-20251001", system=system_with_tag(2)), "m-sub", "subagent"),
    ("haiku-background", body(model="claude-haiku-4-5-20251001"), "m-bg", "background"),
    ("old-haiku-background", body(model="claude-3-5-haiku-latest"), "m-bg", "background"),
    ("haiku-beats-web-search", body(model="claude-haiku-4-5", tools=[WEB]), "m-bg", "background"),
    ("web-search", body(tools=[WEB]), "m-web", "webSearch"),
    ("web-search-beats-think", body(tools=[WEB], thinking={"type": "enabled", "budget_tokens": 2000}),
     "m-web", "webSearch"),
    ("think-enabled", body(thinking={"type": "enabled", "budget_tokens": 2000}), "m-think", "think"),
    ("adaptive-is-not-think", body(thinking={"type": "adaptive"}), "m-default", "default"),
    ("think-beats-image", body([IMAGE, {"type": "text", "text": "?"}],
                               thinking={"type": "enabled", "budget_tokens": 2000}), "m-think", "think"),
    ("image", body([IMAGE, {"type": "text", "text": "what?"}]), "m-image", "image"),
    ("image-in-tool-result", body([{"type": "tool_result", "tool_use_id": "t", "content": [IMAGE]}]),
     "m-image", "image"),
    ("image-only-in-earlier-turn", {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [
        {"role": "user", "content": [IMAGE]}, {"role": "assistant", "content": "a cat"},
        {"role": "user", "content": "thanks"}]}, "m-default", "default"),
]


async def start(proxy, router: dict[str, Any] | None = None, **top: Any):
    return await proxy(json_handler(chat_reply(usage=USAGE)), router=router or ROUTER,
                       provider={"name": "p", "models": MODELS}, **top)


@pytest.mark.parametrize("request_body,model,reason", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_rule(proxy, request_body, model, reason):
    pair = await start(proxy)
    status, headers, raw = await raw_post(pair.ccr.url + "/v1/messages", request_body)
    assert status == 200, raw
    assert pair.sent["model"] == model
    assert headers["x-ccr-route"] == f"p,{model}; reason={reason}"
    assert "CCR-SUBAGENT-MODEL" not in json.dumps(pair.sent)  # the tag never reaches a provider


async def test_subagent_tag_in_system_message_inside_messages(proxy):
    pair = await start(proxy)
    request = {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [
        {"role": "system", "content": TAG + "agent prompt"}, {"role": "user", "content": "go"}]}
    status, _headers, _ = await raw_post(pair.ccr.url + "/v1/messages", request)
    assert status == 200 and pair.sent["model"] == "m-sub"
    assert pair.sent["messages"][0] == {"role": "system", "content": "agent prompt"}


async def test_unknown_explicit_provider_is_404(proxy):
    pair = await start(proxy)
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", body(model="nope,model"))
    error = json.loads(raw)["error"]
    assert status == 404 and error["type"] == "not_found_error" and "'nope'" in error["message"]


async def test_long_context_by_session_last_usage(proxy):
    """The previous reply of a session was over the threshold: a request over 20k tokens goes
    to longContext even though it is itself under the threshold."""
    big = chat_reply(usage={"prompt_tokens": 40000, "completion_tokens": 1, "total_tokens": 40001})
    pair = await proxy(json_handler(big), provider={"name": "p", "models": MODELS},
                       router={**ROUTER, "longContextThreshold": 30000})
    mid = "hello " * 25000  # about 25k tokens: over 20k, under 30k
    headers = {"X-Claude-Code-Session-Id": "sess-long"}
    _, h1, _ = await raw_post(pair.ccr.url + "/v1/messages", body(mid), headers)
    assert h1["x-ccr-route"].endswith("reason=default")  # no history yet
    _, h2, _ = await raw_post(pair.ccr.url + "/v1/messages", body(mid), headers)
    assert h2["x-ccr-route"] == "p,m-long; reason=longContext"
    _, h3, _ = await raw_post(pair.ccr.url + "/v1/messages", body("short"), headers)
    assert h3["x-ccr-route"].endswith("reason=default")  # under 20k: stays on default
    _status, h4, _ = await raw_post(pair.ccr.url + "/v1/messages", body(mid),
                                   {"X-Claude-Code-Session-Id": "other-session"})
    assert h4["x-ccr-route"].endswith("reason=default")


def write_override(session: str, router: dict[str, Any], name: str = "config.json") -> None:
    project = "-work-myproject"
    claude_projects = Path(os.environ["HOME"]) / ".claude" / "projects" / project
    claude_projects.mkdir(parents=True, exist_ok=True)
    (claude_projects / f"{session}.jsonl").write_text("{}\n")
    folder = Path(os.environ["CCR_HOME"]) / project
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"Router": router}))


SESSION = "6c1e3e0a-1111-4222-8333-444455556666"


@pytest.mark.parametrize("how", ["header", "metadata-json", "metadata-legacy"])
async def test_project_override(proxy, how):
    write_override(SESSION, {"default": "p,m-think", "webSearch": "p,m-image"})
    pair = await start(proxy)
    headers, fields = {}, {}
    if how == "header":
        headers = {"X-Claude-Code-Session-Id": SESSION}
    elif how == "metadata-json":
        fields = {"metadata": {"user_id": json.dumps({"device_id": "d", "session_id": SESSION})}}
    else:
        fields = {"metadata": {"user_id": f"user_abc_account__session_{SESSION}"}}
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body(**fields), headers)
    assert h["x-ccr-route"] == "p,m-think; reason=default (project)"
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body(tools=[WEB], **fields), headers)
    assert h["x-ccr-route"] == "p,m-image; reason=webSearch (project)"
    # the Haiku rule always uses the global Router
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body(model="claude-haiku-4-5", **fields), headers)
    assert h["x-ccr-route"] == "p,m-bg; reason=background"
    # other sessions are untouched
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body(), {"X-Claude-Code-Session-Id": "x"})
    assert h["x-ccr-route"] == "p,m-default; reason=default"


async def test_session_override_beats_project(proxy):
    write_override(SESSION, {"default": "p,m-think"})
    write_override(SESSION, {"default": "p,m-web"}, name=f"{SESSION}.json")
    pair = await start(proxy)
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body(), {"X-Claude-Code-Session-Id": SESSION})
    assert h["x-ccr-route"] == "p,m-web; reason=default (session)"


async def test_override_without_default_falls_back(proxy):
    write_override(SESSION, {"think": "p,m-image"})
    pair = await start(proxy)
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body(), {"X-Claude-Code-Session-Id": SESSION})
    assert h["x-ccr-route"] == "p,m-default; reason=default"


CUSTOM_ROUTERS = {
    "async": '''
async def route(body, config):
    assert isinstance(config["Providers"], list)
    text = body["messages"][-1]["content"]
    if text == "custom":
        return "p,m-web"
    if text == "boom":
        raise RuntimeError("router bug")
    return None
''',
    "plain": '''
def route(body, config):
    text = body["messages"][-1]["content"]
    if text == "custom":
        return "p,m-web"
    if text == "boom":
        raise RuntimeError("router bug")
    return ""
''',
}


@pytest.mark.parametrize("kind", list(CUSTOM_ROUTERS))
async def test_custom_router(proxy, tmp_path, kind):
    path = tmp_path / "router.py"
    path.write_text(CUSTOM_ROUTERS[kind])
    pair = await start(proxy, CUSTOM_ROUTER_PATH=str(path))
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body("custom"))
    assert h["x-ccr-route"] == "p,m-web; reason=custom"
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body("nothing special"))
    assert h["x-ccr-route"] == "p,m-default; reason=default"
    with structlog.testing.capture_logs() as logs:
        status, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body("boom"))
    assert status == 200 and h["x-ccr-route"] == "p,m-default; reason=default"
    failures = [e for e in logs if e["event"].startswith("custom router failed")]
    assert failures and "RuntimeError: router bug" in failures[0]["error"]


async def test_custom_router_sees_subagent_tag_then_it_is_removed(proxy, tmp_path):
    path = tmp_path / "router.py"
    path.write_text('def route(body, config):\n'
                    '    return "p,m-think" if "CCR-SUBAGENT" in body["system"] else None\n')
    pair = await start(proxy, CUSTOM_ROUTER_PATH=str(path))
    _, h, _ = await raw_post(pair.ccr.url + "/v1/messages", body(system=TAG + "x"))
    assert h["x-ccr-route"] == "p,m-think; reason=custom"
    assert "CCR-SUBAGENT" not in json.dumps(pair.sent)


@pytest.mark.parametrize("content,problem", [
    (None, "does not exist"),
    ("x = 1\n", "defines no function `route"),
    ("def route(body):\n    return None\n", "must accept (body, config)"),
    ("import nonexistent_module_xyz\n", "ModuleNotFoundError"),
])
def test_custom_router_config_errors(tmp_path, content, problem):
    from ccr.errors import ConfigError
    from ccr.proxy.runtime import build_runtime
    path = tmp_path / "router.py"
    if content is not None:
        path.write_text(content)
    config = make_config([openai_provider("http://127.0.0.1:9/v1/chat/completions", "p", MODELS)],
                         {"default": "p,m-default"}, CUSTOM_ROUTER_PATH=str(path))
    with pytest.raises(ConfigError) as caught:
        build_runtime(config)
    assert "CUSTOM_ROUTER_PATH" in caught.value.message and problem in caught.value.message


async def test_rewrite_system_prompt(proxy, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("You are my own assistant.\n")
    pair = await start(proxy, REWRITE_SYSTEM_PROMPT=str(prompt))
    system = [{"type": "text", "text": "billing"}, {"type": "text", "text": "identity"},
              {"type": "text", "text": "Long Claude Code prompt...\n<env>\ncwd: /work\n</env>\nafter"}]
    status, _, raw = await raw_post(pair.ccr.url + "/v1/messages", body(system=system))
    assert status == 200, raw
    assert pair.sent["messages"][0]["content"] == (
        "billing\nidentity\nYou are my own assistant.\n<env>\ncwd: /work\n</env>\nafter")


def test_rewrite_system_prompt_missing_file(tmp_path):
    from ccr.errors import ConfigError
    from ccr.proxy.runtime import build_runtime
    config = make_config([openai_provider("http://127.0.0.1:9/v1/chat/completions", "p", MODELS)],
                         {"default": "p,m-default"}, REWRITE_SYSTEM_PROMPT=str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigError, match="REWRITE_SYSTEM_PROMPT: cannot read"):
        build_runtime(config)
