"""Custom transformers from Python files, the JavaScript-plugin error, a failing plugin, and
GET /api/transformers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import anthropic
import pytest

from ccr.errors import ConfigError
from ccr.proxy.runtime import build_runtime
from ccr.transformers import BUILTIN
from tests.helpers import make_config, openai_provider, sse

from .util import chat, chunk, read_stream, replying, staged, streaming

PLUGIN = '''
from collections.abc import AsyncIterator

from ccr.transformers import Context, Json, Transformer, Upstream


class Shout(Transformer):
    """Adds a suffix to every reply and pins the temperature."""

    name = "shout"
    options_schema = {"type": "object", "properties": {"suffix": {"type": "string"}}}

    def __init__(self, *, suffix: str = "!", temperature: float = 0.1) -> None:
        self.suffix = suffix
        self.temperature = temperature

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        return up.with_body(temperature=self.temperature)

    async def response(self, body: Json, ctx: Context) -> Json:
        for choice in body["choices"]:
            choice["message"]["content"] += self.suffix
        return body

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        async for chunk in chunks:
            for choice in chunk.get("choices") or ():
                if choice.get("finish_reason"):
                    choice.setdefault("delta", {})["content"] = self.suffix
            yield chunk
'''

BOOM = '''
from ccr.transformers import Context, Transformer, Upstream


class Boom(Transformer):
    name = "boom"

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        raise RuntimeError("the plugin's own bug")


class Flaky(Transformer):
    name = "flaky"

    async def stream(self, chunks, ctx):
        async for chunk in chunks:
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content") == "two":
                raise ValueError("cannot handle this chunk")
            yield chunk
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    path = tmp_path / "plugins" / "shout.py"
    path.parent.mkdir()
    path.write_text(PLUGIN)
    (path.parent / "boom.py").write_text(BOOM)
    return path


async def test_python_plugin_with_options_and_a_failing_plugin(plugin, fake_upstream, ccr_server):
    good = await fake_upstream(streaming(sse(chunk({"content": "hello"}), chunk({}, "stop"))))
    bad = await fake_upstream(replying(chat("never")))
    plain = openai_provider(good.url, "good", ["m"])
    plain["transformer"] = {"use": [["shout", {"suffix": "!!"}]]}
    broken = openai_provider(bad.url, "bad", ["m"])
    broken["transformer"] = {"use": ["shout", "boom"]}
    config = make_config([plain, broken], {"default": "good,m"},
                         transformers=[{"path": str(plugin), "options": {"temperature": 0.3}},
                                       {"path": str(plugin.parent / "boom.py")}])
    ccr = await ccr_server(config)
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.InternalServerError) as caught:
            await client.messages.create(model="bad,m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        error = caught.value.body["error"]
        assert error["type"] == "api_error"
        assert error["message"] == ("bad,m: plugin transformer 'boom' failed on the request: "
                                    "RuntimeError: the plugin's own bug")
        assert "Traceback" not in error["message"] and str(plugin) not in error["message"]
        assert bad.recorder.requests == []
        # the server is still up and other providers are unaffected
        async with client.messages.stream(model="claude-sonnet-5", max_tokens=10,
                                          messages=[{"role": "user", "content": "x"}]) as stream:
            message = await stream.get_final_message()
    assert message.content[0].text == "hello!!"
    assert good.recorder.last["temperature"] == 0.3


async def test_plugin_failing_mid_stream_ends_that_stream_only(plugin, fake_upstream, ccr_server):
    release = asyncio.Event()  # the provider holds its second chunk until the client has the first
    up = await fake_upstream(staged(sse(chunk({"content": "one"}), done=False),
                                    sse(chunk({"content": "two"}), chunk({}, "stop")), release))
    flaky = openai_provider(up.url, "flaky", ["m"])
    flaky["transformer"] = {"use": ["flaky"]}
    config = make_config([flaky, openai_provider(up.url, "plain", ["m"])], {"default": "plain,m"},
                         transformers=[{"path": str(plugin.parent / "boom.py")}])
    ccr = await ccr_server(config)
    request = {"model": "flaky,m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    status, events = await read_stream(ccr.url, request, release)
    assert status == 200 and events[-1][0] == "error"
    assert events[-1][1]["error"]["message"] == ("flaky,m: plugin transformer 'flaky' failed on the stream: "
                                                "ValueError: cannot handle this chunk")
    status, events = await read_stream(ccr.url, {**request, "model": "plain,m"}, asyncio.Event())
    assert status == 200 and events[-1][0] == "message_stop"


def test_javascript_plugin_is_a_clear_config_error(tmp_path):
    js = tmp_path / "gemini-cli.js"
    js.write_text("module.exports = class {}")
    with pytest.raises(ConfigError) as caught:
        build_runtime(make_config([], {}, transformers=[{"path": str(js)}]))
    text = str(caught.value)
    assert "transformers[0]" in text and "JavaScript" in text and "Port it" in text
    assert "Custom transformers" in text


@pytest.mark.parametrize("source, fragment", [
    ("x = 1\n", "defines no Transformer subclass"),
    ("raise ImportError('needs numpy')\n", "needs numpy"),
    ("from ccr.transformers import Transformer\nclass Bad(Transformer):\n    name = 'bad'\n"
     "    def __init__(self):\n        raise RuntimeError('no token')\n", "failed to start: RuntimeError: no token"),
])
def test_broken_plugins_are_config_errors(tmp_path, source, fragment):
    path = tmp_path / "p.py"
    path.write_text(source)
    provider = openai_provider("http://127.0.0.1:9/v1/chat/completions", "prov", ["m"])
    provider["transformer"] = {"use": ["bad"]}
    with pytest.raises(ConfigError) as caught:
        build_runtime(make_config([provider], {"default": "prov,m"}, transformers=[{"path": str(path)}]))
    assert fragment in str(caught.value)


async def test_api_transformers_lists_builtins_and_plugins(plugin, ccr_server):
    config = make_config([openai_provider("http://127.0.0.1:9/v1/chat/completions", "prov", ["m"])],
                         {"default": "prov,m"}, APIKEY="admin-secret",
                         transformers=[{"path": str(plugin)}, {"path": str(plugin.parent / "boom.py")}])
    ccr = await ccr_server(config)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{ccr.url}/api/transformers") as resp:
            assert resp.status == 401
            assert (await resp.json())["type"] == "error"
        async with session.get(f"{ccr.url}/api/transformers", headers={"x-api-key": "admin-secret"}) as resp:
            assert resp.status == 200
            listed = (await resp.json())["transformers"]
    by_name = {t["name"]: t for t in listed}
    assert [t["name"] for t in listed[:len(BUILTIN)]] == [cls.name for cls in BUILTIN]
    assert by_name["gemini"]["endpoint"] == "/v1beta/models/:modelAndAction"
    assert by_name["anthropic"]["endpoint"] == "/v1/messages" and by_name["maxtoken"]["endpoint"] is None
    assert by_name["maxtoken"]["origin"] == "built-in"
    assert by_name["maxtoken"]["options_schema"]["required"] == ["max_tokens"]
    assert by_name["shout"]["origin"] == str(plugin) and by_name["boom"]["origin"] == str(plugin.parent / "boom.py")
    assert by_name["shout"]["options_schema"] == {"type": "object", "properties": {"suffix": {"type": "string"}}}
    assert {"openrouter", "vertex-gemini", "vertex-claude", "openai-responses", "tooluse", "enhancetool",
            "forcereasoning", "customparams", "streamoptions", "cleancache", "sampling", "reasoning",
            "maxcompletiontokens", "groq", "cerebras", "vercel", "deepseek"} <= set(by_name)
