"""`cleancache`: remove Anthropic `cache_control` markers, which most providers reject."""

from __future__ import annotations

from typing import ClassVar

from ._util import copy_body, strip_cache_control
from .base import Context, Transformer, Upstream

__all__ = ["CleanCache"]


class CleanCache(Transformer):
    name: ClassVar[str] = "cleancache"

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = copy_body(up.body)
        strip_cache_control(body)
        return Upstream(up.url, body, up.headers)
