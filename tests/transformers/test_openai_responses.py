"""openai-responses dialect against a fake OpenAI Responses API.

Every event the fake server streams and every reply it returns is validated with the official
`openai` SDK's models (`ResponseStreamEvent`, `Response`), and every request ccr sends with its
`ResponseCreateParams` types, so both sides match the documented wire format.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses import response_create_params as params
from pydantic import TypeAdapter

from tests.core.util import _check, raw_post
from tests.helpers import typed_sse

from .util import (
    TOOLS,
    create_message,
    history,
    read_stream,
    replying,
    setup,
    staged,
    stream_message,
    streaming,
    tool_results,
)

EVENT = TypeAdapter(ResponseStreamEvent)
HI = {"model": "claude-sonnet-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
MODEL = "gpt-5-codex"
USAGE = {"input_tokens": 300, "input_tokens_details": {"cached_tokens": 200, "cache_write_tokens": 0}, "output_tokens": 50,
         "output_tokens_details": {"reasoning_tokens": 30}, "total_tokens": 350}


def response(status="in_progress", output=None, usage=None, **extra) -> dict[str, Any]:
    body = {"id": "resp_1", "object": "response", "created_at": 1, "model": MODEL, "status": status,
            "output": output or [], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
            "temperature": None, "top_p": None, **extra}
    if usage:
        body["usage"] = usage
    Response.model_validate(body)
    return body


def events(*items: dict[str, Any]) -> bytes:
    checked = []
    for number, item in enumerate(items):
        item = {**item, "sequence_number": number}
        EVENT.validate_python(item)
        checked.append(item)
    return typed_sse(*checked)


REASONING = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Read it first."}],
             "encrypted_content": "gAAAAAencrypted=="}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": "Read",
        "arguments": "{\"path\":\"a.py\"}", "status": "completed"}


def first_turn() -> bytes:
    return events(
        {"type": "response.created", "response": response()},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "reasoning", "id": "rs_1", "summary": []}},
        {"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "part": {"type": "summary_text", "text": ""}},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "delta": "Read it "},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "delta": "first."},
        {"type": "response.output_item.done", "output_index": 0, "item": REASONING},
        {"type": "response.output_item.added", "output_index": 1,
         "item": {**CALL, "arguments": "", "status": "in_progress"}},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1,
         "delta": "{\"path\":"},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1, "delta": "\"a.py\"}"},
        {"type": "response.output_item.done", "output_index": 1, "item": CALL},
        {"type": "response.completed", "response": response("completed", [REASONING, CALL], USAGE)})


def second_turn() -> bytes:
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": "It prints 1.", "annotations": []}]}
    return events(
        {"type": "response.created", "response": response()},
        {"type": "response.output_item.added", "output_index": 0, "item": {**message, "content": [],
                                                                           "status": "in_progress"}},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
         "delta": "It prints ", "logprobs": []},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
         "delta": "1.", "logprobs": []},
        {"type": "response.completed", "response": response("completed", [message], USAGE)})


def check_request(body: dict[str, Any]) -> None:
    kind = params.ResponseCreateParamsStreaming if body.get("stream") else params.ResponseCreateParamsNonStreaming
    _check(body, kind, "body", {})


async def test_stream_tool_loop_with_encrypted_reasoning(fake_upstream, ccr_server):
    def reply(body):
        return second_turn() if any(i.get("type") == "function_call_output" for i in body["input"]) else first_turn()

    pair = await setup(fake_upstream, ccr_server, streaming(reply), model=MODEL, path="/v1/responses",
                       use=["openai-responses"])
    ask = {"role": "user", "content": "what does a.py print?"}
    first = await stream_message(pair, system="Be exact.", tools=TOOLS, messages=[ask],
                                 thinking={"type": "enabled", "budget_tokens": 4096})
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert first.content[0].thinking == "Read it first."
    assert first.content[1].id == "call_abc" and first.content[1].input == {"path": "a.py"}
    assert first.stop_reason == "tool_use"
    assert first.usage.input_tokens == 100 and first.usage.cache_read_input_tokens == 200
    assert first.usage.output_tokens == 50
    sent = pair.up.recorder.requests[0]
    check_request(sent)
    assert sent["instructions"] == "Be exact." and sent["store"] is False
    assert sent["reasoning"] == {"summary": "auto", "effort": "medium"}
    assert sent["include"] == ["reasoning.encrypted_content"] and sent["max_output_tokens"] == 1000
    assert sent["tools"][0]["name"] == "Read" and sent["tools"][0]["type"] == "function"

    second = await stream_message(pair, system="Be exact.", tools=TOOLS,
                                  messages=[ask, history(first), tool_results(first, "print(1)")])
    assert second.content[0].text == "It prints 1." and second.stop_reason == "end_turn"
    sent = pair.sent
    check_request(sent)
    assert sent["input"] == [
        {"role": "user", "content": "what does a.py print?"},
        {"type": "reasoning", "id": "rs_1", "encrypted_content": "gAAAAAencrypted==",
         "summary": [{"type": "summary_text", "text": "Read it first."}]},
        {"type": "function_call", "call_id": "call_abc", "name": "Read", "arguments": "{\"path\":\"a.py\"}"},
        {"type": "function_call_output", "call_id": "call_abc", "output": "print(1)"}]


async def test_whole_reply(fake_upstream, ccr_server):
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": "Hi.", "annotations": []}]}
    body = response("incomplete", [message], USAGE, incomplete_details={"reason": "max_output_tokens"})
    pair = await setup(fake_upstream, ccr_server, replying(body), model="gpt-4.1", path="/v1/responses",
                       use=["openai-responses"])
    reply = await create_message(pair, extra_body={"temperature": 0.3}, messages=[{"role": "user", "content": [
        {"type": "text", "text": "hi"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}]}])
    assert reply.content[0].text == "Hi." and reply.stop_reason == "max_tokens"
    check_request(pair.sent)
    assert pair.sent["temperature"] == 0.3 and "reasoning" not in pair.sent
    assert pair.sent["input"][0]["content"] == [
        {"type": "input_text", "text": "hi"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto"}]


async def test_error_event_mid_stream(fake_upstream, ccr_server):
    release = asyncio.Event()
    first = events({"type": "response.created", "response": response()},
                   {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
                    "delta": "Par", "logprobs": []})
    rest = typed_sse({"type": "error", "code": "server_error", "message": "The server had an error", "param": None,
                      "sequence_number": 2})
    pair = await setup(fake_upstream, ccr_server, staged(first, rest, release), model=MODEL, path="/v1/responses",
                       use=["openai-responses"])
    status, got = await read_stream(pair.ccr.url, HI, release)
    assert status == 200 and got[-1][0] == "error"
    assert "The server had an error" in got[-1][1]["error"]["message"]


async def test_failed_response(fake_upstream, ccr_server):
    release = asyncio.Event()
    failed = response("failed", error={"code": "rate_limit_exceeded", "message": "Slow down"})
    first = events({"type": "response.created", "response": response()},
                   {"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0,
                    "delta": "x", "logprobs": []})
    rest = typed_sse({"type": "response.failed", "response": failed, "sequence_number": 2})
    EVENT.validate_python({"type": "response.failed", "response": failed, "sequence_number": 2})
    pair = await setup(fake_upstream, ccr_server, staged(first, rest, release), model=MODEL, path="/v1/responses",
                       use=["openai-responses"])
    status, got = await read_stream(pair.ccr.url, HI, release)
    assert status == 200 and got[-1][0] == "error" and "Slow down" in got[-1][1]["error"]["message"]


async def test_error_before_anything_is_an_http_error(fake_upstream, ccr_server):
    payload = typed_sse({"type": "error", "code": "server_error", "message": "The server had an error",
                         "param": None, "sequence_number": 0})
    pair = await setup(fake_upstream, ccr_server, streaming(payload), model=MODEL, path="/v1/responses",
                       use=["openai-responses"])
    status, _, raw = await raw_post(f"{pair.ccr.url}/v1/messages", {**HI, "stream": True})
    assert status >= 500 and "The server had an error" in json.loads(raw)["error"]["message"]
