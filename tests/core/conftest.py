"""Fixtures for the core tests: one call starts a fake provider and ccr in front of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Pair, start_pair

from .util import USAGE, chat_reply, json_handler


@pytest.fixture
async def proxy(fake_upstream, ccr_server):
    """`pair = await proxy(handler, router=..., provider=..., **top_level_config)`; without a
    handler the provider answers a plain chat completion."""

    async def start(handler: Any = None, **options: Any) -> Pair:
        return await start_pair(fake_upstream, ccr_server, handler or json_handler(chat_reply(usage=USAGE)),
                                **options)

    return start
