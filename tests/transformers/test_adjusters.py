"""Request adjusters on top of the openai dialect: what reaches a fake OpenAI-compatible provider.

Each request ccr sends is also checked against the `openai` SDK's request types (with the
extensions each adjuster is meant to add named explicitly).
"""

from __future__ import annotations

import pytest

from ccr.errors import ConfigError
from ccr.proxy.runtime import build_runtime
from tests.core.util import assert_openai_request
from tests.helpers import make_config, openai_provider, sse

from .util import TOOLS, chat, chunk, create_message, replying, setup, stream_message, streaming

HI = [{"role": "user", "content": "hi"}]


async def test_maxtoken_lowers_only(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat()), use=[["maxtoken", {"max_tokens": 512}]])
    await create_message(pair, max_tokens=20000, messages=HI)
    assert pair.sent["max_tokens"] == 512
    await create_message(pair, max_tokens=100, messages=HI)
    assert pair.sent["max_tokens"] == 100
    assert_openai_request(pair.sent)


async def test_maxcompletiontokens_renames(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat()), model="o3",
                       use=[["maxcompletiontokens", {"max_completion_tokens": 4000}]])
    await create_message(pair, max_tokens=9000, messages=HI)
    assert "max_tokens" not in pair.sent and pair.sent["max_completion_tokens"] == 4000
    assert_openai_request(pair.sent)


async def test_sampling_overrides(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat()),
                       use=[["sampling", {"temperature": 0.6, "top_p": 0.95, "top_k": 20,
                                          "repetition_penalty": 1.05, "max_tokens": 2048}]])
    await create_message(pair, max_tokens=8000, extra_body={"temperature": 1.0}, messages=HI)
    sent = pair.sent
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.6, 0.95, 2048)
    assert sent["repetition_penalty"] == 1.05


async def test_cleancache_and_customparams(fake_upstream, ccr_server):
    # openrouter keeps cache_control for Anthropic models; cleancache takes it out anyway
    pair = await setup(fake_upstream, ccr_server, replying(chat()), model="anthropic/claude-opus-4.1", use=[
        "openrouter", "cleancache", ["customparams", {"enable_thinking": True, "chat_template_kwargs": {"thinking": True},
                                        "max_tokens": 1}]])
    await create_message(pair, system=[{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
                         max_tokens=300, messages=[{"role": "user", "content": [
                             {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                             {"type": "text", "text": "b"}]}])
    sent = pair.sent
    assert "cache_control" not in str(sent)
    assert sent["enable_thinking"] is True and sent["chat_template_kwargs"] == {"thinking": True}
    assert sent["max_tokens"] == 300, "a value the request has is kept"


async def test_streamoptions(fake_upstream, ccr_server):
    payload = sse(chunk({"content": "x"}), chunk({}, "stop"),
                       {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 1}})
    pair = await setup(fake_upstream, ccr_server, streaming(payload),
                       use=[["openai", {"include_usage": False}], "streamoptions"])
    message = await stream_message(pair, messages=HI)
    assert pair.sent["stream_options"] == {"include_usage": True} and message.usage.input_tokens == 7


async def test_reasoning_enable_thinking(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat(reasoning_content="hmm")), model="qwen3-235b",
                       use=["reasoning"])
    message = await create_message(pair, thinking={"type": "enabled", "budget_tokens": 3000}, messages=HI)
    assert pair.sent["enable_thinking"] is True
    assert pair.sent["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert message.content[0].type == "thinking" and message.content[0].thinking == "hmm"
    off = await setup(fake_upstream, ccr_server, replying(chat()), use=[["reasoning", {"enable": False}]])
    await create_message(off, thinking={"type": "enabled", "budget_tokens": 3000}, messages=HI)
    assert off.sent["enable_thinking"] is False and off.sent["thinking"] == {"type": "disabled"}


async def test_groq_and_cerebras(fake_upstream, ccr_server):
    payload = sse(chunk({"content": "fast"}),
                       chunk({}, "stop", x_groq={"id": "req_1", "usage": {"prompt_tokens": 33, "completion_tokens": 4}}))
    groq = await setup(fake_upstream, ccr_server, streaming(payload), use=["groq"])
    message = await stream_message(groq, tools=TOOLS, messages=HI)
    assert message.usage.input_tokens == 33 and message.usage.output_tokens == 4
    assert "$schema" not in str(groq.sent["tools"])
    assert_openai_request(groq.sent)
    cerebras = await setup(fake_upstream, ccr_server, replying(chat()), model="gpt-oss-120b", use=["cerebras"])
    await create_message(cerebras, tools=TOOLS, thinking={"type": "enabled", "budget_tokens": 20000}, messages=HI)
    assert cerebras.sent["reasoning_effort"] == "high" and "$schema" not in str(cerebras.sent["tools"])
    await create_message(cerebras, thinking={"type": "disabled"}, messages=HI)
    assert cerebras.sent["disable_reasoning"] is True


@pytest.mark.parametrize("use, fragment", [
    (["nosuch"], "unknown transformer 'nosuch'"),
    ([["maxtoken", {"max_tokens": -5}]], "must be a positive whole number"),
    ([["maxtoken", {"max_token": 5}]], "bad options for transformer 'maxtoken'"),
    (["maxtoken"], "bad options for transformer 'maxtoken'"),
    ([["sampling", {"temperature": "hot"}]], "must be a number"),
    ([["reasoning", {"enable": "yes"}]], "must be true or false"),
    ([["openrouter", {"provider": "anthropic"}]], 'option "provider" must be an object'),
    (["gemini", "openrouter"], "each translate to a different wire format"),
])
def test_bad_entries_are_config_errors_naming_provider_and_entry(use, fragment):
    provider = openai_provider("http://127.0.0.1:9/v1/chat/completions", "prov", ["m1"])
    provider["transformer"] = {"use": ["cleancache"], "m1": {"use": use}}
    with pytest.raises(ConfigError) as caught:
        build_runtime(make_config([provider], {"default": "prov,m1"}))
    text = str(caught.value)
    assert fragment in text and "Providers[0] (prov).transformer.m1.use" in text


def test_names_are_case_insensitive_and_model_chain_follows_provider_chain():
    provider = openai_provider("http://127.0.0.1:9/v1/chat/completions", "prov", ["m1"])
    provider["transformer"] = {"use": ["OpenRouter", "CleanCache"], "m1": {"use": [["MaxToken", {"max_tokens": 9}]]}}
    runtime = build_runtime(make_config([provider], {"default": "prov,m1"}))
    assert runtime.chains[("prov", "m1")].names == ("cleancache", "maxtoken", "openrouter")
    assert runtime.chains[("prov", "")].names == ("cleancache", "openrouter")
