"""Helpers for the OpenAI-API tests: ccr in front of fake providers, the official `openai` SDK
(and the `anthropic` one for GET /v1/models) as clients."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai

from tests.conftest import CCR, Upstream, make_config, openai_provider
from tests.transformers.util import staged  # noqa: F401  (re-exported for these tests)

Json = dict[str, Any]


@dataclass
class Pair:
    up: Upstream
    ccr: CCR

    @property
    def sent(self) -> Json:
        """The last body the fake provider received."""
        return self.up.recorder.last

    def client(self, api_key: str = "client-key") -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.ccr.url + "/v1", api_key=api_key, max_retries=0)


async def start(fake_upstream: Any, ccr_server: Any, handler: Any, *, use: list[Any] | None = None,
                path: str = "/v1/chat/completions", name: str = "fake", model: str = "gpt-test",
                router: Json | None = None, **top: Any) -> Pair:
    up = await fake_upstream(handler, path=path)
    spec = openai_provider(up.url, name, [model])
    if use is not None:
        spec["transformer"] = {"use": use}
    config = make_config([spec], router or {"default": f"{name},{model}"}, **top)
    return Pair(up, await ccr_server(config))


def typed_sse(*events: Json) -> bytes:
    """`event: <type>` + `data:` frames, as Anthropic sends them."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


async def raw_stream(url: str, body: Json, headers: Json | None = None) -> tuple[int, list[bytes]]:
    """POST and return the status and the raw SSE frames (without the SDK)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/v1/chat/completions", json=body, headers=headers or {}) as resp:
            raw = await resp.read()
    return resp.status, [f for f in raw.split(b"\n\n") if f]


async def stats(url: str) -> Json:
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/api/stats") as resp:
            return await resp.json()  # type: ignore[no-any-return]
