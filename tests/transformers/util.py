"""Helpers for the transformer tests: fake providers speaking each wire format, ccr in front.

    pair = await setup(fake_upstream, ccr_server, handler, use=["gemini"], model="gemini-2.5-pro",
                       path="/v1beta/models/")
    async with pair.client() as client: ...        # the official anthropic SDK, pointed at ccr
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.helpers import Handler, Json, Pair, start_pair


def streaming(payload: bytes | Callable[[Json], bytes], piece: int = 7) -> Handler:
    """Serve an SSE body cut into `piece`-byte writes; a callable gets the request body."""
    async def handler(request: web.Request) -> web.StreamResponse:
        data = payload(await request.json()) if callable(payload) else payload
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for start in range(0, len(data), piece):
            await response.write(data[start:start + piece])
        await response.write_eof()
        return response
    return handler


def replying(body: Json | Callable[[Json], Json], status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        data = body(await request.json()) if callable(body) else body
        return web.json_response(data, status=status)
    return handler


def chat(content: str | None = "Hello", *, tool_calls: list[Json] | None = None,
         finish: str = "stop", usage: Json | None = None, **extra: Any) -> Json:
    message: Json = {"role": "assistant", "content": content, **extra}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage or {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}}


def chunk(delta: Json | None = None, finish: str | None = None, **extra: Any) -> Json:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **extra}


def call(index: int, id: str | None = None, name: str | None = None, arguments: str = "") -> Json:
    out: Json = {"index": index, "function": {"arguments": arguments}}
    if id:
        out["id"], out["type"] = id, "function"
    if name:
        out["function"]["name"] = name
    return out


async def setup(fake_upstream: Any, ccr_server: Any, handler: Handler, *, model: str = "m", name: str = "p",
                **options: Any) -> Pair:
    """`start_pair` with the provider and model names these tests route to: "p,m"."""
    return await start_pair(fake_upstream, ccr_server, handler, model=model, name=name, **options)


TOOLS = [{"name": "Read", "description": "read a file",
          "input_schema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                           "properties": {"path": {"type": "string"}}, "required": ["path"]}},
         {"name": "Bash", "description": "run a command",
          "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]


async def stream_message(pair: Pair, **kwargs: Any) -> Any:
    kwargs.setdefault("max_tokens", 1000)
    async with pair.client() as client:
        async with client.messages.stream(model="claude-sonnet-5", **kwargs) as stream:
            return await stream.get_final_message()


async def create_message(pair: Pair, **kwargs: Any) -> Any:
    kwargs.setdefault("max_tokens", 1000)
    async with pair.client() as client:
        return await client.messages.create(model="claude-sonnet-5", **kwargs)


def history(message: Any) -> Json:
    """The assistant turn as a client sends it back (SDK blocks -> request params)."""
    return {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]}


def tool_results(message: Any, text: str = "ok") -> Json:
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": b.id, "content": text}
                                        for b in message.content if b.type == "tool_use"]}


def assert_gemini_request(body: Json) -> None:
    """Raise unless `body` is a generateContent request the official google-genai SDK's types
    accept, part for part (its models forbid unknown fields)."""
    from google.genai import types

    allowed = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings",
               "cachedContent"}
    assert set(body) <= allowed, f"unknown generateContent keys: {set(body) - allowed}"
    for content in body["contents"]:
        types.Content.model_validate(content)
    if "systemInstruction" in body:
        types.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools") or ():
        types.Tool.model_validate(tool)
    if "toolConfig" in body:
        types.ToolConfig.model_validate(body["toolConfig"])
    if "generationConfig" in body:
        types.GenerationConfig.model_validate(body["generationConfig"])


def gemini_reply_checked(body: Json) -> Json:
    """A Gemini reply, checked against the SDK's GenerateContentResponse."""
    from google.genai import types

    types.GenerateContentResponse.model_validate(body)
    return body


def staged(first: bytes, rest: bytes, release: Any) -> Handler:
    """Send `first`, wait until the test saw it arrive at the client (`release` is set), then
    `rest`: an error that is really in the middle of the stream, whatever the network coalesces."""
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(first)
        await release.wait()
        await response.write(rest)
        await response.write_eof()
        return response
    return handler


async def read_stream(url: str, body: Json, release: Any) -> tuple[int, list[tuple[str, Json]]]:
    """POST a streamed request and collect the SSE events; set `release` at the first text delta."""
    import aiohttp

    events: list[tuple[str, Json]] = []
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v1/messages", json={**body, "stream": True}) as resp:
            name = ""
            async for raw in resp.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:])
                    events.append((name, data))
                    if name == "content_block_delta":
                        release.set()
            return resp.status, events
