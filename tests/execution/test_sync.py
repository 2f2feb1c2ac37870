"""POST /api/claude-code with the real CLI, its options, and who may call it."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.execution.conftest import APIKEY, claude_bin, exec_config
from tests.helpers import make_config, openai_provider


@pytest.mark.claude_cli
async def test_sync_run_returns_the_seed_result_and_applies_the_options(model, ccr_server, http, tmp_path):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code", json={
            "prompt": "Please answer MARK-alpha",
            "options": {"format": "json", "model": "fake,gpt-test", "max_tokens": 321,
                        "temperature": 0.3, "timeout": 60}}) as response:
        assert response.status == 200
        body = await response.json()
        header_id = response.headers["request-id"]
    result = body["result"]
    assert body["success"] is True and result["success"] is True and result["status"] == "success"
    assert result["output"] == "OUT-alpha"
    assert result["error"] == "" and result["return_code"] == 0 and result["attempts"] == 1
    assert result["session_id"] and isinstance(result["cost"], float) and result["usage"]["output_tokens"] == 7
    assert result["json"]["type"] == "result" and result["json"]["result"] == "OUT-alpha"
    assert body["request_id"] == header_id

    # The command is shown with the key masked; the key appears nowhere in the answer.
    command = result["command"]
    assert "claude -p 'Please answer MARK-alpha' --output-format json" in command
    assert "--model fake,gpt-test" in command and "--permission-mode acceptEdits" in command
    assert "ANTHROPIC_API_KEY=***" in command and "CLAUDE_CODE_MAX_OUTPUT_TOKENS=321" in command
    assert APIKEY not in json.dumps(body)

    # Options without a CLI flag reached the model through ccr (x-ccr-task), and ccr counted tokens.
    sent = scripted.bodies[-1]
    assert sent["temperature"] == 0.3
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 321
    assert result["ccr_usage"]["requests"] >= 1 and result["ccr_usage"]["output_tokens"] >= 7

    # The task is stored with the request that started it.
    async with http.get(f"{ccr.url}/api/claude-code/task/{body['task_id']}") as response:
        task = await response.json()
    assert task["status"] == "completed" and task["kind"] == "sync"
    assert task["request_id"] == header_id and task["result"]["output"] == "OUT-alpha"
    assert task["started_at"] and task["completed_at"]

    # The CLI used ccr's own config folder, never the user's HOME.
    assert (tmp_path / "ccr-home" / "claude-home" / ".claude.json").exists()
    assert not (tmp_path / "user-home" / ".claude.json").exists()


@pytest.mark.claude_cli
async def test_markdown_and_stream_json_formats(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code", json={
            "prompt": "MARK-beta", "options": {"format": "stream-json"}}) as response:
        body = await response.json()
    result = body["result"]
    assert result["success"] and result["output"] == "OUT-beta"
    assert "--output-format stream-json --verbose" in result["command"]
    kinds = [m.get("type") for m in result["messages"]]
    assert kinds[0] == "system" and kinds[-1] == "result" and "assistant" in kinds

    async with http.post(f"{ccr.url}/api/claude-code", json={
            "prompt": "MARK-gamma", "options": {"format": "markdown"}}) as response:
        result = (await response.json())["result"]
    assert result["success"] and result["output"] == "OUT-gamma" and "messages" not in result
    assert "--append-system-prompt 'Format your final answer as Markdown.'" in result["command"]
    assert "Format your final answer as Markdown." in json.dumps(scripted.bodies[-1]["messages"])


@pytest.mark.parametrize("options, message", [
    ({"format": "python"}, "options.format: 'python' is not an output format"),
    ({"permission_mode": "bypassPermissions"}, "options.permission_mode: unknown option"),
    ({"top_p": 0.5}, "options.top_p: unknown option"),
    ({"temperature": 3}, "options.temperature: 3 is out of range 0..1"),
    ({"max_tokens": 1.5}, "options.max_tokens: expected a whole number"),
    ({"timeout": 0}, "options.timeout: 0 is out of range"),
    ({"max_retries": 99}, "options.max_retries: 99 is out of range 0..10"),
    ({"model": "--dangerously-skip-permissions"},
     "options.model: '--dangerously-skip-permissions' is not a model name"),
    ({"working_dir": "/etc"}, "options.working_dir: '/etc' is outside the allowed roots"),
    ({"project_dir": "../.."}, "options.project_dir: '../..' is outside the allowed roots"),
    ({"context_file": "/etc/passwd"}, "options.context_file: '/etc/passwd' is outside the allowed roots"),
    ({"output_file": "../../escape.txt"}, "options.output_file: '../../escape.txt' is outside the allowed roots"),
    ({"working_dir": "missing-dir"}, "options.working_dir: 'missing-dir' is not an existing directory"),
])
@pytest.mark.claude_cli
async def test_options_the_cli_cannot_honour_are_refused(model, ccr_server, http, options, message):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code", json={"prompt": "MARK-x", "options": options}) as response:
        assert response.status == 400
        body = await response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert message in body["error"]["message"]
    assert scripted.texts == []  # nothing ran


@pytest.mark.claude_cli
async def test_missing_prompt_and_bad_json(model, ccr_server, http):
    _, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code", json={"options": {}}) as response:
        assert response.status == 400
        assert "prompt: missing" in (await response.json())["error"]["message"]
    async with http.post(f"{ccr.url}/api/claude-code", data=b"{not json") as response:
        assert response.status == 400
        assert "not valid JSON" in (await response.json())["error"]["message"]


@pytest.mark.claude_cli
async def test_temperature_is_refused_when_the_cli_does_not_run_through_ccr(model, ccr_server, http):
    _, url = model
    ccr = await ccr_server(exec_config(url, base_url="http://127.0.0.1:9", api_key="elsewhere-key"))
    async with http.post(f"{ccr.url}/api/claude-code",
                         json={"prompt": "hi", "options": {"temperature": 0.5}}) as response:
        assert response.status == 400
        assert "no temperature setting" in (await response.json())["error"]["message"]


@pytest.mark.claude_cli
async def test_without_apikey_foreign_origin_and_host_are_refused(model, ccr_server):
    _, url = model
    ccr = await ccr_server(exec_config(url, apikey=None))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{ccr.url}/api/claude-code", json={"prompt": "MARK-x"},
                                headers={"Origin": "http://evil.example"}) as response:
            assert response.status == 403
            assert (await response.json())["error"]["type"] == "permission_error"
        async with session.post(f"{ccr.url}/api/claude-code/async", json={"prompt": "MARK-x"},
                                headers={"Host": "evil.example"}) as response:
            assert response.status == 403
        async with session.get(f"{ccr.url}/api/tasks", headers={"Host": "rebind.example:80"}) as response:
            assert response.status == 403


@pytest.mark.claude_cli
async def test_with_apikey_a_missing_or_wrong_key_is_401(model, ccr_server):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with aiohttp.ClientSession() as session:
        for path in ("/api/claude-code", "/api/claude-code/async", "/api/claude-code/batch",
                     "/api/claude-code/workflow"):
            async with session.post(f"{ccr.url}{path}", json={"prompt": "MARK-x"}) as response:
                assert response.status == 401, path
                assert (await response.json())["error"]["type"] == "authentication_error"
        async with session.get(f"{ccr.url}/api/tasks", headers={"x-api-key": "wrong"}) as response:
            assert response.status == 401
    assert scripted.texts == []


@pytest.mark.claude_cli
async def test_context_file_output_file_and_working_dir(model, ccr_server, http, tmp_path):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    project = tmp_path / "ccr-home" / "workspace" / "proj"
    project.mkdir(parents=True)
    # 150 KB of context: more than one argv string may carry, so it must travel on stdin.
    (project / "notes.md").write_text("filler line\n" * 12_500 + "MARK-fromcontext\n")
    async with http.post(f"{ccr.url}/api/claude-code", json={
            "prompt": "Summarise the notes below.",
            "options": {"working_dir": "proj", "context_file": "notes.md", "output_file": "answer.txt"}}) as response:
        body = await response.json()
    result = body["result"]
    assert result["success"], result
    assert result["output"] == "OUT-fromcontext"
    assert (project / "answer.txt").read_text() == "OUT-fromcontext"
    assert result["output_file"] == str(project / "answer.txt")
    assert "bytes on stdin" in result["command"]
    assert "Summarise the notes below." in scripted.texts[-1] and "MARK-fromcontext" in scripted.texts[-1]


@pytest.mark.claude_cli
def test_bad_claudecode_section_is_a_config_error_naming_the_key(tmp_path):
    from ccr.errors import ConfigError
    from ccr.proxy.runtime import build_runtime

    config = make_config([openai_provider("http://127.0.0.1:9/v1/chat/completions")],
                         {"default": "fake,gpt-test"}, CLAUDE_PATH=claude_bin(),
                         ClaudeCode={"max_concurrent": 0, "permission_mode": "bypassPermissions",
                                     "timeout": "soon", "bogus": 1})
    with pytest.raises(ConfigError) as info:
        build_runtime(config)
    problems = "\n".join(info.value.problems)
    assert "ClaudeCode.max_concurrent: 0 is out of range 1..64" in problems
    assert "ClaudeCode.permission_mode: bypassPermissions" in problems and "is_sandbox" in problems
    assert "ClaudeCode.timeout: expected a number, got 'soon'" in problems
    assert "ClaudeCode.bogus: unknown setting" in problems


async def test_a_missing_cli_is_503_naming_claude_path(model, ccr_server, http, tmp_path):
    _, url = model
    config = make_config([openai_provider(url)], {"default": "fake,gpt-test"}, APIKEY=APIKEY,
                         CLAUDE_PATH=str(tmp_path / "no-such-claude"))
    ccr = await ccr_server(config)
    async with http.post(f"{ccr.url}/api/claude-code", json={"prompt": "MARK-x"}) as response:
        assert response.status == 503
        body = await response.json()
    assert body["error"]["type"] == "api_error" and "set CLAUDE_PATH" in body["error"]["message"]
    assert "no-such-claude" not in body["error"]["message"]
