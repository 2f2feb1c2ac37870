"""A scripted OpenAI-compatible model in its own process, for tests that start several ccr processes.

    python -m tests.distributed.fake_model PORT

User text `MARK-<w>` answers `OUT-<w>`; `@@HANG@@` waits until POST /release. GET /state says how
many requests are hanging and came in, and the temperature of each request per mark.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any

from aiohttp import web

state: dict[str, Any] = {"hung": 0, "seen": 0, "temperatures": {}}
gates: list[asyncio.Event] = []  # the current hang's gate; /release opens it and starts a new one


def _text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") != "user":
            continue
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    text = _text(body)
    state["seen"] += 1
    if "@@HANG@@" in text:
        if not gates:
            gates.append(asyncio.Event())
        gate = gates[-1]
        state["hung"] += 1
        try:
            await gate.wait()
        finally:
            state["hung"] -= 1
    marks = re.findall(r"MARK-([A-Za-z0-9]+)", text)
    if marks:
        state["temperatures"].setdefault(marks[-1], []).append(body.get("temperature"))
    content = f"OUT-{marks[-1]}" if marks else "OUT-none"
    usage = {"prompt_tokens": 40, "completion_tokens": 7}
    if not body.get("stream"):
        return web.json_response({"id": "c1", "object": "chat.completion", "model": "gpt-test", "usage": usage,
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": content}}]})
    chunks = [{"id": "c1", "model": "gpt-test", "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                                   "content": content}}]},
              {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {"id": "c1", "choices": [], "usage": usage}]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n")
    return response


async def do_release(_request: web.Request) -> web.Response:
    if gates:
        gates.pop().set()
    return web.json_response(state)


async def show(_request: web.Request) -> web.Response:
    return web.json_response(state)


def main() -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/release", do_release)
    app.router.add_get("/state", show)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), handler_cancellation=True,
                print=lambda *_: print("ready", flush=True))


if __name__ == "__main__":
    main()
