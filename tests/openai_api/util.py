"""Helpers for the OpenAI-API tests: raw reads of /v1/chat/completions streams and /api/stats
(ccr in front of a fake provider is `tests.helpers.start_pair`, its `openai()` the client)."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.helpers import admin_headers

Json = dict[str, Any]


async def raw_stream(url: str, body: Json, headers: Json | None = None) -> tuple[int, list[bytes]]:
    """POST and return the status and the raw SSE frames (without the SDK)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/v1/chat/completions", json=body, headers=headers or {}) as resp:
            raw = await resp.read()
    return resp.status, [f for f in raw.split(b"\n\n") if f]


async def stats(url: str) -> Json:
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/api/stats", headers=admin_headers()) as resp:
            return await resp.json()  # type: ignore[no-any-return]
