"""Fixtures for the core tests: one call starts a fake provider and ccr in front of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import CCR, Upstream, make_config, openai_provider

from .util import USAGE, chat_reply, json_handler


@dataclass
class Pair:
    up: Upstream
    ccr: CCR

    @property
    def sent(self) -> dict[str, Any]:
        """The last body the fake provider received."""
        return self.up.recorder.last


@pytest.fixture
async def proxy(fake_upstream, ccr_server):
    """`pair = await proxy(handler, router=..., provider=..., **top_level_config)`."""

    async def start(handler: Any = None, *, router: dict[str, Any] | None = None,
                    provider: dict[str, Any] | None = None, models: list[str] | None = None,
                    path: str = "/v1/chat/completions", **top: Any) -> Pair:
        up = await fake_upstream(handler or json_handler(chat_reply(usage=USAGE)), path=path)
        spec = openai_provider(up.url, models=models)
        spec.update(provider or {})
        config = make_config([spec], router or {"default": f"{spec['name']},{spec['models'][0]}"},
                             **top)
        return Pair(up, await ccr_server(config))

    return start
