"""Helpers shared by the core tests: fake provider replies and a strict check of what ccr sent.

`assert_openai_request(body)` walks the body ccr sent to an OpenAI-compatible upstream against
the official `openai` SDK's request types (`CompletionCreateParams` and the TypedDicts it is made
of): every key must be one the SDK declares (no Anthropic-only field leaking through), every
required key must be there, and every value must have the declared type.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat import completion_create_params as params

Json = dict[str, Any]


# --- fake provider replies --------------------------------------------------------------------

def chat_reply(content: str | None = "Hello", *, tool_calls: list[Json] | None = None,
               finish_reason: str = "stop", usage: Json | None = None, model: str = "gpt-test",
               **message_extra: Any) -> Json:
    """An OpenAI chat completion, checked against the SDK's `ChatCompletion` model."""
    message: Json = {"role": "assistant", "content": content, **message_extra}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body = {"id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason,
                         "logprobs": None}]}
    if usage is not None:
        body["usage"] = usage
    ChatCompletion.model_validate(body)
    return body


def chunk(delta: Json | None = None, *, finish_reason: str | None = None, usage: Json | None = None,
          choices: bool = True, **extra: Any) -> Json:
    """One streamed chat-completion chunk, checked against the SDK's `ChatCompletionChunk`."""
    body: Json = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1,
                  "model": "gpt-test",
                  "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}]
                  if choices else []}
    if usage is not None:
        body["usage"] = usage
    body.update(extra)
    ChatCompletionChunk.model_validate(body)
    return body


def tool_call_delta(index: int, *, id: str | None = None, name: str | None = None,
                    arguments: str | None = None) -> Json:
    call: Json = {"index": index}
    if id is not None:
        call["id"] = id
        call["type"] = "function"
    function: Json = {}
    if name is not None:
        function["name"] = name
    if arguments is not None:
        function["arguments"] = arguments
    if function:
        call["function"] = function
    return call


def json_handler(body: Json, status: int = 200):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)
    return handler


def stream_handler(payload: bytes, content_type: str = "text/event-stream", piece: int | None = None):
    """Serve `payload` as a streamed body, optionally cut into `piece`-byte writes."""
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        step = piece or len(payload) or 1
        for start in range(0, len(payload), step):
            await response.write(payload[start:start + step])
        await response.write_eof()
        return response
    return handler


USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}


# --- talking to ccr without the SDK ----------------------------------------------------------

async def raw_post(url: str, body: Json, headers: Mapping[str, str] | None = None
                   ) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, headers=dict(headers or {})) as resp:
            return resp.status, CIMultiDict(resp.headers), await resp.read()


# --- a strict check against the openai SDK's request types -----------------------------------

class RequestShapeError(AssertionError):
    pass


def _typed_dict_keys(tp: Any) -> tuple[dict[str, Any], set[str]]:
    hints = typing.get_type_hints(tp, include_extras=True)
    # __required_keys__ is empty for these TypedDicts (total=False with Required[...]), so
    # read the Required markers from the hints themselves.
    required = set(getattr(tp, "__required_keys__", ()))
    required |= {k for k, v in hints.items() if typing.get_origin(v) is typing.Required}
    return hints, required


def _is_typed_dict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__annotations__") \
        and hasattr(tp, "__total__")


def _check(value: Any, tp: Any, path: str, extra: Mapping[str, set[str]]) -> None:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return
    if origin in (typing.Required, typing.NotRequired) or str(origin).endswith(("Required", "NotRequired")):
        return _check(value, args[0], path, extra)
    if origin is typing.Annotated:
        return _check(value, args[0], path, extra)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                _check(value, option, path, extra)
                return
            except RequestShapeError as exc:
                errors.append(str(exc))
        raise RequestShapeError(f"{path}: {value!r:.200} fits none of {tp}: {errors}")
    if origin is typing.Literal:
        if value not in args:
            raise RequestShapeError(f"{path}: {value!r} is not one of {args}")
        return
    if tp is type(None):
        if value is not None:
            raise RequestShapeError(f"{path}: expected null")
        return
    if _is_typed_dict(tp):
        if not isinstance(value, dict):
            raise RequestShapeError(f"{path}: expected an object for {tp.__name__}")
        hints, required = _typed_dict_keys(tp)
        allowed = set(hints) | extra.get(tp.__name__, set())
        unknown = set(value) - allowed
        if unknown:
            raise RequestShapeError(f"{path}: {tp.__name__} has no keys {sorted(unknown)}")
        missing = required - set(value)
        if missing:
            raise RequestShapeError(f"{path}: {tp.__name__} misses {sorted(missing)}")
        for key, item in value.items():
            if key in hints:
                _check(item, hints[key], f"{path}.{key}", extra)
        return
    if origin in (list, Iterable, Sequence, typing.Iterable, typing.Sequence) or \
            origin in (getattr(typing, "List", None),):
        if not isinstance(value, list):
            raise RequestShapeError(f"{path}: expected a list")
        for i, item in enumerate(value):
            _check(item, args[0] if args else Any, f"{path}[{i}]", extra)
        return
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise RequestShapeError(f"{path}: expected an object")
        return
    if tp is str:
        if not isinstance(value, str):
            raise RequestShapeError(f"{path}: expected a string, got {value!r:.80}")
        return
    if tp is bool:
        if not isinstance(value, bool):
            raise RequestShapeError(f"{path}: expected a boolean")
        return
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestShapeError(f"{path}: expected an integer")
        return
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RequestShapeError(f"{path}: expected a number")
        return
    if isinstance(tp, type) and not isinstance(value, tp):
        raise RequestShapeError(f"{path}: expected {tp.__name__}")


def assert_openai_request(body: Json, *, extra: Mapping[str, set[str]] | None = None) -> None:
    """Raise unless `body` is a valid `openai` chat-completions request, key for key.

    `extra` allows named extensions, e.g. {"ChatCompletionAssistantMessageParam":
    {"reasoning_content"}} for DeepSeek's reasoning round trip.
    """
    kind = params.CompletionCreateParamsStreaming if body.get("stream") else \
        params.CompletionCreateParamsNonStreaming
    _check(body, kind, "body", extra or {})
