"""The floor: a bare aiohttp Anthropic -> OpenAI converter, measured next to ccr in every run.

    python -m bench.bare --port N --upstream http://127.0.0.1:M/v1/chat/completions

It does ccr's job on the benchmark's workload with the least code, and nothing else: no routing,
no config, no logs, no auth, no retries. POST /v1/messages converts the Anthropic body to an
OpenAI chat-completions body, posts it through one shared, pooled aiohttp.ClientSession, and
converts the reply back: JSON to an Anthropic message, SSE to Anthropic events, all the events
of one upstream read in one write. Replies are text only (the fake upstream never calls tools).
orjson and uvloop are used when importable, as ccr's `fast` extra does. What it costs per
request is what aiohttp and the conversion themselves cost on this machine, in this run; it is
a yardstick, not a competitor to optimise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

try:
    import orjson
except ImportError:
    loads = json.loads

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
else:
    loads = orjson.loads
    dumps = orjson.dumps

__all__ = ["to_openai", "to_anthropic", "make_app", "main"]

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
# written raw, these split an SSE line for clients that use str.splitlines(); ccr escapes them too
_BREAKS = ((b"\xc2\x85", b"\\u0085"), (b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def _safe(data: bytes) -> bytes:
    if not data.isascii():
        for raw, escaped in _BREAKS:
            data = data.replace(raw, escaped)
    return data


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b["text"] for b in content or () if b.get("type") == "text")


def to_openai(body: dict[str, Any]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if body.get("system"):
        messages.append({"role": "system", "content": _text(body["system"])})
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
            continue
        texts, calls = [], []
        for block in content:
            kind = block.get("type")
            if kind == "text":
                texts.append(block["text"])
            elif kind == "tool_use":
                calls.append({"id": block["id"], "type": "function", "function": {
                    "name": block["name"], "arguments": dumps(block.get("input") or {}).decode()}})
            elif kind == "tool_result":  # before the message's text: it answers the previous turn
                messages.append({"role": "tool", "tool_call_id": block["tool_use_id"],
                                 "content": _text(block.get("content", ""))})
        if texts or calls:
            out: dict[str, Any] = {"role": message["role"], "content": "\n".join(texts) or None}
            if calls:
                out["tool_calls"] = calls
            messages.append(out)
    out = {"model": body["model"], "messages": messages, "max_tokens": body.get("max_tokens"),
           "stream": bool(body.get("stream"))}
    if body.get("tools"):
        out["tools"] = [{"type": "function", "function": {
            "name": t["name"], "description": t.get("description", ""),
            "parameters": t.get("input_schema", {})}} for t in body["tools"]]
    if out["stream"]:
        out["stream_options"] = {"include_usage": True}
    return out


def _usage(usage: dict[str, Any] | None) -> dict[str, int]:
    usage = usage or {}
    return {"input_tokens": usage.get("prompt_tokens", 0), "output_tokens": usage.get("completion_tokens", 0)}


def to_anthropic(reply: dict[str, Any]) -> dict[str, Any]:
    choice = reply["choices"][0]
    text = choice["message"].get("content")
    return {"id": reply.get("id", "msg_bare"), "type": "message", "role": "assistant",
            "model": reply.get("model", ""), "content": [{"type": "text", "text": text}] if text else [],
            "stop_reason": _STOP.get(choice.get("finish_reason"), "end_turn"), "stop_sequence": None,
            "usage": _usage(reply.get("usage"))}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps({"type": name, **data}) + b"\n\n"


class _Stream:
    """OpenAI chunks in, Anthropic events out; one text block, opened at the first text."""

    def __init__(self) -> None:
        self.started = self.open = self.done = False
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None

    def feed(self, line: bytes, out: list[bytes]) -> None:
        if not line.startswith(b"data:") or self.done:
            return
        data = line[5:].strip()
        if data == b"[DONE]":
            self.close(out)
            return
        chunk = loads(data)
        if not self.started:
            self.started = True
            out.append(_event("message_start", {"message": {
                "id": chunk.get("id", "msg_bare"), "type": "message", "role": "assistant",
                "model": chunk.get("model", ""), "content": [], "stop_reason": None,
                "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}}))
        for choice in chunk.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                if not self.open:
                    self.open = True
                    out.append(_event("content_block_start",
                                      {"index": 0, "content_block": {"type": "text", "text": ""}}))
                out.append(_event("content_block_delta",
                                  {"index": 0, "delta": {"type": "text_delta", "text": text}}))
            self.finish = choice.get("finish_reason") or self.finish
        self.usage = chunk.get("usage") or self.usage

    def close(self, out: list[bytes]) -> None:
        if self.done or not self.started:
            return
        self.done = True
        if self.open:
            out.append(_event("content_block_stop", {"index": 0}))
        out.append(_event("message_delta", {"delta": {"stop_reason": _STOP.get(self.finish, "end_turn"),
                                                      "stop_sequence": None}, "usage": _usage(self.usage)}))
        out.append(_event("message_stop", {}))


class _Converter:
    """The one route, with the upstream's URL and the shared session it posts through."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
        self.session: aiohttp.ClientSession | None = None

    async def session_ctx(self, app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         timeout=aiohttp.ClientTimeout(total=600)) as self.session:
            yield

    async def messages(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        body = to_openai(loads(await request.read()))
        async with self.session.post(self.upstream, data=dumps(body), headers=self.headers) as up:
            if up.status != 200:
                error = {"type": "error", "error": {"type": "api_error", "message": await up.text()}}
                return web.Response(status=up.status, body=dumps(error), content_type="application/json")
            if not body["stream"]:
                return web.Response(body=_safe(dumps(to_anthropic(loads(await up.read())))),
                                    content_type="application/json")
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                                   "Cache-Control": "no-cache"})
            await response.prepare(request)
            stream, rest = _Stream(), b""
            async for data in up.content.iter_any():
                lines = (rest + data).split(b"\n")
                rest = lines.pop()
                out: list[bytes] = []
                for line in lines:
                    stream.feed(line, out)
                if out:
                    await response.write(_safe(b"".join(out)))
            out = []
            stream.feed(rest, out)
            stream.close(out)  # an upstream that ended without [DONE]
            if out:
                await response.write(_safe(b"".join(out)))
            await response.write_eof()
            return response


def make_app(upstream: str) -> web.Application:
    converter = _Converter(upstream)
    app = web.Application()
    app.cleanup_ctx.append(converter.session_ctx)
    app.router.add_post("/v1/messages", converter.messages)
    return app


async def _serve(port: int, upstream: str) -> None:
    runner = web.AppRunner(make_app(upstream), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    print(f"listening {port}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the OpenAI chat-completions URL")
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(args.port, args.upstream))
    else:
        uvloop.run(_serve(args.port, args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
