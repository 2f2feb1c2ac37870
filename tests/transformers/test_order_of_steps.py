"""The order of a chain's request steps: the dialect first admits the client's body (dropping
what its provider cannot take), then the adjusters run, then the dialect translates. So what an
adjuster or a user's transformer adds reaches the provider, and what the client sent that the
provider rejects does not. Fake providers on 127.0.0.1 record what ccr really sends."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import pytest
from aiohttp import web

from tests.helpers import make_config, openai_provider, sse

from .util import chat, chunk, create_message, replying, setup, stream_message, streaming

HI = [{"role": "user", "content": "hi"}]
PLUGIN = '''
from ccr.transformers import Context, Transformer, Upstream

class TopK(Transformer):
    name = "topk"

    def __init__(self, *, top_k: int = 5) -> None:
        self.top_k = top_k

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        return up.with_body(top_k=self.top_k, min_p=0.05)
'''


@pytest.mark.parametrize("client_top_k", [None, 40], ids=["client-none", "client-40"])
async def test_customparams_top_k_reaches_an_openai_compatible_provider(fake_upstream, ccr_server, client_top_k):
    pair = await setup(fake_upstream, ccr_server, replying(chat("ok")), use=[["customparams", {"top_k": 20}]])
    extra = {} if client_top_k is None else {"extra_body": {"top_k": client_top_k}}
    message = await create_message(pair, messages=HI, **extra)
    assert message.content[0].text == "ok"
    assert pair.sent["top_k"] == 20  # the client's own top_k is not for this provider; ours is


async def test_sampling_top_k_reaches_the_provider_in_a_stream(fake_upstream, ccr_server):
    reply = sse(chunk({"content": "ok"}), chunk({}, "stop"))
    pair = await setup(fake_upstream, ccr_server, streaming(reply), use=[["sampling", {"top_k": 30}]])
    message = await stream_message(pair, messages=HI, extra_body={"top_k": 7})
    assert message.content[0].text == "ok"
    assert pair.sent["top_k"] == 30 and pair.sent["stream"] is True


async def test_a_plain_chain_still_drops_the_clients_top_k(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat("ok")))
    await create_message(pair, messages=HI, extra_body={"top_k": 40, "temperature": 0.5})
    assert "top_k" not in pair.sent and pair.sent["temperature"] == 0.5


async def test_a_plugin_transformers_fields_survive_the_dialect(fake_upstream, ccr_server, tmp_path: Path):
    path = tmp_path / "topk.py"
    path.write_text(PLUGIN)
    pair = await setup(fake_upstream, ccr_server, replying(chat("ok")), use=[["topk", {"top_k": 12}]],
                       transformers=[{"path": str(path)}])
    await create_message(pair, messages=HI, extra_body={"top_k": 40})
    assert (pair.sent["top_k"], pair.sent["min_p"]) == (12, 0.05)


# --- the native Anthropic dialect admits no thinking that ccr signed, on every path -----------

ANTHROPIC_REPLY = {"id": "msg_up", "type": "message", "role": "assistant", "model": "claude-up",
                   "content": [{"type": "text", "text": "It is green."}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 4}}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


async def test_image_agent_path_drops_ccr_signed_thinking_for_anthropic(fake_upstream, ccr_server):
    """A turn answered by an OpenAI-compatible reasoning model (thinking signed `ccr1:`), then an
    image in an earlier message, routed to a native Anthropic default with Router.image set: the
    image agent's call to Anthropic carries no `ccr1:` block (Anthropic answers 400 to one)."""
    async def anthropic_handler(request: web.Request) -> web.Response:
        body = await request.json()
        if "ccr1:" in json.dumps(body):
            return web.json_response({"type": "error", "error": {"type": "invalid_request_error",
                                                                 "message": "invalid signature"}}, status=400)
        return web.json_response(ANTHROPIC_REPLY)

    native = await fake_upstream(anthropic_handler, path="/v1/messages")
    vision = await fake_upstream(replying(chat("a green button")))
    config = make_config([{"name": "claude", "api_base_url": native.url, "api_key": "sk-ant",
                           "models": ["claude-up"], "transformer": {"use": ["anthropic"]}},
                          openai_provider(vision.url, "vision", ["qwen-vl"])],
                         {"default": "claude,claude-up", "image": "vision,qwen-vl"})
    ccr = await ccr_server(config)
    messages = [
        {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                    "data": PNG}},
                                     {"type": "text", "text": "Look at this."}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "from a reasoning model",
             "signature": "ccr1:reasoning_content:deepseek"},
            {"type": "text", "text": "I see it."}]},
        {"role": "user", "content": "What colour is the button?"},
    ]
    async with anthropic.AsyncAnthropic(base_url=ccr.url, api_key="k", max_retries=0) as client:
        message = await client.messages.create(model="claude-sonnet-5", max_tokens=200, messages=messages)
    assert message.content[0].text == "It is green."
    sent = native.recorder.last
    assert "ccr1:" not in json.dumps(sent)
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "I see it."}]
