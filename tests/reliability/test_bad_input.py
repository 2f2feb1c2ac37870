"""Bad input never gives a 500: each gets a 4xx in the front door's error shape, saying what is wrong.

Every case here answered 500 "Internal error" (or worse) before: deep nesting ended in a
RecursionError, a bad charset in a LookupError, NaN in a config number in `int(nan)`, and so on.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ccr import jsonlib
from ccr.config import load
from ccr.config.limits import max_body_bytes
from ccr.errors import ConfigError, RequestError
from ccr.formats.validate import validate_request

from .conftest import Live, chat_reply

JSON_DOORS = ["/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions", "/api/config",
              "/api/claude-code", "/api/claude-code/async", "/api/claude-code/workflow",
              "/api/claude-code/batch", "/api/tasks/cleanup"]
MESSAGE = {"model": "fake,gpt-test", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
CHAT = {"model": "fake,gpt-test", "messages": [{"role": "user", "content": "hi"}]}


def message_of(body: Any) -> str:
    """The error message of an Anthropic-shaped or OpenAI-shaped error answer."""
    assert isinstance(body, dict), body
    if body.get("type") == "error":
        return str(body["error"]["message"])
    return str(body["error"]["message"])  # OpenAI: {"error": {"message", "type", ...}}


def assert_anthropic_error(body: Any, error_type: str) -> str:
    assert isinstance(body, dict) and body.get("type") == "error", body
    assert body["error"]["type"] == error_type
    return str(body["error"]["message"])


@pytest.mark.parametrize("path", JSON_DOORS)
@pytest.mark.parametrize("payload", [b"[" * 100_000, b'{"a":' * 300 + b"1" + b"}" * 300],
                         ids=["unclosed", "valid-but-deep"])
async def test_deep_nesting_is_400_everywhere(live: Any, path: str, payload: bytes) -> None:
    ccr: Live = await live()
    status, body = await ccr.call("POST", path, payload, {"Content-Type": "application/json"})
    assert status == 400, body
    assert "nesting too deep" in message_of(body)
    assert ccr.upstream_hits == []


async def test_nesting_at_the_limit_is_still_read(live: Any) -> None:
    """200 levels parse (the request is then refused for its shape, not its depth)."""
    ccr: Live = await live()
    nested: Any = "x"
    for _ in range(jsonlib.MAX_DEPTH - 2):
        nested = [nested]
    payload = json.dumps({**MESSAGE, "metadata": {"deep": nested}}).encode()
    status, body = await ccr.call("POST", "/v1/messages/count_tokens", payload)
    assert status == 200, body


@pytest.mark.parametrize("shape", ["arrays", "objects", "text", "big-integer"])
def test_the_depth_limit_is_exact(shape: str) -> None:
    """MAX_DEPTH levels parse, one more is refused, whichever way the check takes (the fast
    serializer's probe, or the walk when a 2**70 integer makes that serializer refuse)."""
    def text(levels: int) -> bytes:
        inner = b"%d" % 2**70 if shape == "big-integer" else b"1"
        if shape == "objects":
            return b'{"a":' * levels + inner + b"}" * levels
        return b"[" * levels + inner + b"]" * levels

    for levels, fits in ((jsonlib.MAX_DEPTH, True), (jsonlib.MAX_DEPTH + 1, False)):
        data: bytes | str = text(levels).decode() if shape == "text" else text(levels)
        if fits:
            assert jsonlib.loads(data) is not None
        else:
            with pytest.raises(ValueError, match="nesting too deep"):
                jsonlib.loads(data)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_non_finite_numbers_in_config_api_are_400(live: Any, literal: bytes) -> None:
    ccr: Live = await live()
    before = (ccr.home / "config.json").read_bytes()
    payload = b'{"Providers": [], "Router": {}, "API_TIMEOUT_MS": ' + literal + b"}"
    status, body = await ccr.call("POST", "/api/config", payload, {"Content-Type": "application/json"})
    assert status == 400, body
    message = assert_anthropic_error(body, "invalid_request_error")
    assert literal.decode().lstrip("-") in message or "too large" in message
    assert (ccr.home / "config.json").read_bytes() == before  # nothing written


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_config_file_are_refused(tmp_path: Path, literal: str) -> None:
    """The JSON5 file path reads NaN and Infinity; validation refuses them by key."""
    path = tmp_path / "config.json"
    path.write_text(f'{{"Providers": [], "Router": {{}}, "API_TIMEOUT_MS": {literal}, "Router": {{"longContextThreshold": {literal}}}}}', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert any(p.startswith("API_TIMEOUT_MS:") and "finite" in p for p in caught.value.problems)
    assert any(p.startswith("Router.longContextThreshold:") for p in caught.value.problems)


def test_deeply_nested_config_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"x": ' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    with pytest.raises(ConfigError):
        load(path)


@pytest.mark.parametrize(("data", "content_type", "expected"), [
    (b'{"LOG_LEVEL": "\xff\xfe"}', "application/json", "not valid UTF-8: byte 0xff at offset 15"),
    (b'{"LOG_LEVEL": "info"}', "application/json; charset=klingon-8", "unknown charset 'klingon-8'"),
    (b"\xc3", "application/json", "not valid UTF-8"),
], ids=["bad-utf8", "unknown-charset", "truncated-utf8"])
async def test_config_api_charset_problems_are_400(live: Any, data: bytes, content_type: str,
                                                   expected: str) -> None:
    ccr: Live = await live()
    status, body = await ccr.call("POST", "/api/config", data, {"Content-Type": content_type})
    assert status == 400, body
    assert expected in assert_anthropic_error(body, "invalid_request_error")


async def test_config_api_reads_a_declared_charset(live: Any) -> None:
    """A charset Python knows is honoured (here Latin-1 text with an é)."""
    ccr: Live = await live()
    raw = json.loads((ccr.home / "config.json").read_text())
    raw["Providers"][0]["name"] = "fak\u00e9"
    raw["Router"]["default"] = "fak\u00e9,gpt-test"
    data = json.dumps(raw, ensure_ascii=False).encode("latin-1")
    status, body = await ccr.call("POST", "/api/config", data,
                                  {"Content-Type": "application/json; charset=latin-1"})
    assert status == 200, body
    assert json.loads((ccr.home / "config.json").read_text())["Providers"][0]["name"] == "fak\u00e9"


@pytest.mark.parametrize(("patch", "expected"), [
    ({"tool_choice": {"type": "tool", "name": 5}}, "tool_choice.name"),
    ({"tool_choice": {"type": 7}}, "tool_choice.type"),
    ({"tool_choice": "auto"}, "tool_choice: expected an object"),
    ({"model": "fake,ok\u0001"}, "control character U+0001"),
    ({"model": "fake,gpt-test\r\nx-injected: 1"}, "control character U+000D"),
    ({"model": "fake,gpt\u0085"}, "control character U+0085"),
    ({"temperature": "hot"}, "temperature: expected a number"),
    ({"top_p": [1]}, "top_p: expected a number"),
], ids=["tool-choice-name", "tool-choice-type", "tool-choice-string", "d9-control-char", "d9-crlf",
        "d9-c1", "temperature-string", "top-p-list"])
@pytest.mark.parametrize("stream", [False, True])
async def test_messages_field_errors_are_400_before_the_provider(live: Any, patch: dict[str, Any],
                                                                 expected: str, stream: bool) -> None:
    ccr: Live = await live()
    payload = json.dumps({**MESSAGE, **patch, "stream": stream}).encode()
    status, body = await ccr.call("POST", "/v1/messages", payload, {"Content-Type": "application/json"})
    assert status == 400, body
    assert expected in assert_anthropic_error(body, "invalid_request_error")
    assert ccr.upstream_hits == []


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"1e400"])
async def test_d16_non_finite_temperature_on_the_wire_is_400(live: Any, literal: bytes) -> None:
    ccr: Live = await live()
    for path, base in (("/v1/messages", MESSAGE), ("/v1/chat/completions", CHAT)):
        payload = json.dumps(base).encode()[:-1] + b', "temperature": ' + literal + b"}"
        status, body = await ccr.call("POST", path, payload, {"Content-Type": "application/json"})
        assert status == 400, (path, body)
        assert "not valid JSON" in message_of(body)
    assert ccr.upstream_hits == []


@pytest.mark.parametrize("key", ["temperature", "top_p"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_d16_non_finite_numbers_that_get_past_json_are_refused(key: str, value: float) -> None:
    """Bodies can reach validation without our JSON reader (execution tasks set temperature)."""
    with pytest.raises(RequestError, match=f"{key}: expected a finite number"):
        validate_request({**MESSAGE, key: value})


@pytest.mark.parametrize(("patch", "expected"), [
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "content[0].text"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "content[0].text"),
    ({"messages": [{"role": "user", "content": [7]}]}, "content[0]: expected a content part"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 1}}]}]},
     "image_url.url"),
    ({"model": "fake,ok\u0001"}, "control character U+0001"),
    ({"tool_choice": {"type": "function", "function": {"name": 5}}}, "tool_choice"),
    ({"temperature": "hot"}, "temperature: expected a number"),
], ids=["text-int", "text-missing", "part-not-object", "image-url", "d9", "tool-choice", "temperature"])
async def test_chat_field_errors_are_400(live: Any, patch: dict[str, Any], expected: str) -> None:
    ccr: Live = await live()
    payload = json.dumps({**CHAT, **patch}).encode()
    status, body = await ccr.call("POST", "/v1/chat/completions", payload, {"Content-Type": "application/json"})
    assert status == 400, body
    assert body["error"]["type"] == "invalid_request_error"
    assert expected in body["error"]["message"]
    assert ccr.upstream_hits == []


@pytest.mark.parametrize(("payload", "expected"), [
    (b'{"days": 1000000}', "days: expected a number of days from 0 to 36500"),
    (b'{"days": -1}', "days: expected"),
    (b'{"days": NaN}', "not valid JSON"),
    (b'{"days": Infinity}', "not valid JSON"),
    (b'{"days": 1e400}', "too large"),
], ids=["million", "negative", "nan", "infinity", "1e400"])
async def test_task_cleanup_days_out_of_range_is_400(live: Any, payload: bytes, expected: str) -> None:
    ccr: Live = await live()
    status, body = await ccr.call("POST", "/api/tasks/cleanup", payload, {"Content-Type": "application/json"})
    assert status == 400, body
    assert expected in assert_anthropic_error(body, "invalid_request_error")


async def test_task_cleanup_in_range_still_works(live: Any) -> None:
    ccr: Live = await live()
    status, body = await ccr.call("POST", "/api/tasks/cleanup", b'{"days": 36500}')
    assert status == 200, body
    assert body["deleted"] == 0


@pytest.mark.parametrize(("payload", "expected"), [
    (b"steps:\n  - name: a\n    prompt: caf\xe9\n", "not valid UTF-8: byte 0xe9"),
    (b"[" * 100_000, "nested too deeply"),
    (b"steps: [\n", "the YAML is not valid"),
], ids=["bad-utf8", "deep", "syntax"])
async def test_yaml_workflow_problems_are_400(live: Any, payload: bytes, expected: str) -> None:
    ccr: Live = await live()
    status, body = await ccr.call("POST", "/api/claude-code/workflow", payload,
                                  {"Content-Type": "application/yaml"})
    assert status == 400, body
    assert expected in assert_anthropic_error(body, "invalid_request_error")


@pytest.mark.parametrize(("payload", "expected"), [
    ({"prompt": "hello\u0000world"}, "prompt: contains a NUL byte"),
    ({"prompt": "hi", "options": {"model": "fake,gpt\u0000"}}, "options.model: contains a NUL byte"),
    ({"prompt": "caf\udce9"}, "prompt: contains a lone surrogate (\\udce9) at position 3"),
])
@pytest.mark.parametrize("path", ["/api/claude-code", "/api/claude-code/async"])
async def test_d11_nul_in_a_task_is_refused_up_front(live: Any, tmp_path: Path, payload: dict[str, Any],
                                                    expected: str | None, path: str) -> None:
    ccr: Live = await live(CLAUDE_PATH=str(_unstartable(tmp_path)))
    status, body = await ccr.call("POST", path, json.dumps(payload).encode())
    if expected is None:
        assert status != 500, body
        return
    assert status == 400, body
    assert expected in assert_anthropic_error(body, "invalid_request_error")
    status, tasks = await ccr.call("GET", "/api/tasks")
    assert tasks["total"] == 0  # nothing was stored as running


def _start_failure(error: str) -> bool:
    """The reason, as ccr states it (exec failed in ccr) or as the launcher does (setpriv)."""
    return "could not be started" in error or "No such file or directory" in error


def _unstartable(tmp_path: Path) -> Path:
    """An executable whose interpreter does not exist: exec fails with ENOENT."""
    script = tmp_path / "claude"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def test_d11_a_task_whose_process_cannot_start_ends_failed(live: Any, tmp_path: Path) -> None:
    ccr: Live = await live(CLAUDE_PATH=str(_unstartable(tmp_path)))
    status, body = await ccr.call("POST", "/api/claude-code", json.dumps({"prompt": "hi"}).encode())
    assert status == 200, body
    assert body["success"] is False
    assert _start_failure(body["result"]["error"])
    status, task = await ccr.call("GET", f"/api/claude-code/task/{body['task_id']}")
    assert task["status"] == "failed"
    status, cancel = await ccr.call("DELETE", f"/api/claude-code/task/{body['task_id']}")
    assert status in (404, 409), cancel  # finished: nothing to cancel, and it says so
    assert cancel["type"] == "error"


async def test_d11_an_async_task_whose_process_cannot_start_ends_failed(live: Any, tmp_path: Path) -> None:
    ccr: Live = await live(CLAUDE_PATH=str(_unstartable(tmp_path)))
    status, body = await ccr.call("POST", "/api/claude-code/async", json.dumps({"prompt": "hi"}).encode())
    assert status == 202, body
    for _ in range(200):
        status, task = await ccr.call("GET", f"/api/claude-code/task/{body['task_id']}")
        if task["status"] not in ("pending", "running"):
            break
        await _tick()
    assert task["status"] == "failed", task
    assert _start_failure(task["error"])


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.05)


@pytest.mark.parametrize("path", [*JSON_DOORS, "/api/claude-code/workflow?yaml"])
@pytest.mark.parametrize("chunked", [False, True])
async def test_body_over_max_body_mb_is_413(live: Any, path: str, chunked: bool) -> None:
    ccr: Live = await live(MAX_BODY_MB=1)
    big = b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    headers = {"Content-Type": "application/yaml" if path.endswith("?yaml") else "application/json"}
    data: Any = io.BytesIO(big)  # aiohttp warns about large raw bytes
    if chunked:
        async def pieces() -> Any:
            for i in range(0, len(big), 65536):
                yield big[i:i + 65536]
        data = pieces()
    async with ccr.session.post(ccr.url + path.removesuffix("?yaml"), data=data,
                                headers={**ccr.headers, **headers}) as resp:
        status, body = resp.status, await resp.json(content_type=None)
    assert status == 413, body
    assert "larger than 1 MB (MAX_BODY_MB" in message_of(body)  # says which setting to raise
    if path != "/v1/chat/completions":
        assert_anthropic_error(body, "request_too_large")


async def test_body_under_max_body_mb_is_read(live: Any) -> None:
    ccr: Live = await live(MAX_BODY_MB=1)
    body = {**MESSAGE, "messages": [{"role": "user", "content": "a " * 400_000}]}
    status, answer = await ccr.call("POST", "/v1/messages/count_tokens", json.dumps(body).encode())
    assert status == 200, answer
    assert answer["input_tokens"] > 0


async def test_a_body_over_one_mib_reaches_the_provider_whole(live: Any) -> None:
    got: list[int] = []

    async def measuring(request: web.Request) -> web.StreamResponse:
        got.append(len(await request.content.read()))  # past the fake's own 1 MiB read limit
        return web.json_response(chat_reply("ok"))

    ccr: Live = await live(measuring)
    body = json.dumps({**MESSAGE, "messages": [{"role": "user", "content": "a " * 1_500_000}]}).encode()
    status, answer = await ccr.call("POST", "/v1/messages", body)  # warnings are errors in tests
    assert status == 200, answer
    assert got and got[0] > 3_000_000


async def test_a_raised_max_body_mb_applies_after_restart_without_a_new_process(live: Any) -> None:
    ccr: Live = await live(MAX_BODY_MB=1)
    body = json.dumps({**MESSAGE, "messages": [{"role": "user", "content": "a " * 800_000}]}).encode()
    status, answer = await ccr.call("POST", "/v1/messages/count_tokens", body)
    assert status == 413, answer
    status, config = await ccr.call("GET", "/api/config")
    config = {**config, "MAX_BODY_MB": 3}
    assert (await ccr.call("POST", "/api/config", json.dumps(config).encode()))[0] == 200
    status, restarted = await ccr.call("POST", "/api/restart")
    assert status == 200, restarted
    status, answer = await ccr.call("POST", "/v1/messages/count_tokens", body)
    assert status == 200, answer


def test_max_body_mb_defaults_to_50(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{}", encoding="utf-8")
    assert max_body_bytes(load(path).data) == 50 * 1024 * 1024
    path.write_text('{"MAX_BODY_MB": 0}', encoding="utf-8")
    with pytest.raises(ConfigError, match="MAX_BODY_MB"):
        load(path)


def test_environment_is_isolated() -> None:
    assert os.environ["CCR_HOME"].endswith("ccr-home")
