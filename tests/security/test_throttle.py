"""D17: wrong keys are logged (rate-limited, naming the client address, never the key) and
throttled per address, loopback included; a client with the right key is never slowed."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from .conftest import LONG_KEY, base_config

ATTEMPTS = 1500
BURST, PER_SECOND = 100, 40.0  # the promise of docs/security.md: at most 300 wrong keys in 5 s


async def test_wrong_keys_are_throttled_and_the_right_key_is_not(admin_server):
    admin = await admin_server(base_config(APIKEY=LONG_KEY, LOG=True), log=True)
    statuses: dict[int, int] = {}
    right: list[int] = []
    throttled: list[tuple[dict, dict]] = []
    wrong_keys = [f"wrong-key-{i:05d}-guess" for i in range(ATTEMPTS)]
    gate = asyncio.Semaphore(32)

    async def attempt(session: aiohttp.ClientSession, i: int) -> None:
        async with gate:
            key = LONG_KEY if i % 25 == 0 else wrong_keys[i]
            path = "/v1/messages/count_tokens" if i % 2 else "/api/config"
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]} if i % 2 else None
            method = "POST" if i % 2 else "GET"
            async with session.request(method, admin.url + path, json=body, headers={"x-api-key": key}) as resp:
                answer = await resp.json()
                if key == LONG_KEY:
                    right.append(resp.status)
                    return
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status == 429:
                    throttled.append((dict(resp.headers), answer))

    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(attempt(session, i) for i in range(ATTEMPTS)))
    elapsed = time.monotonic() - started

    assert right and set(right) == {200}, right  # the right key always goes through
    budget = BURST + PER_SECOND * elapsed + 1
    assert statuses.get(401, 0) <= budget, (statuses, elapsed)
    assert statuses.get(429, 0) >= ATTEMPTS - len(right) - budget
    assert set(statuses) <= {401, 429}
    headers, answer = throttled[0]
    assert int(headers["Retry-After"]) >= 1
    assert answer["type"] == "error" and answer["error"]["type"] == "rate_limit_error"

    logged = [json.loads(line) for f in admin.log_dir.iterdir() for line in f.read_text().splitlines() if line]
    failures = [entry for entry in logged if entry.get("event") == "authentication failed"]
    assert failures and all(entry["client"] == "127.0.0.1" for entry in failures)
    assert len(failures) <= 3  # one line per address per 10 s, not one per attempt
    text = "\n".join(f.read_text() for f in admin.log_dir.iterdir())
    assert not any(key in text for key in wrong_keys) and LONG_KEY not in text
