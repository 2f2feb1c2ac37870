"""`streamoptions`: ask for usage at the end of streams (`stream_options.include_usage`)."""

from __future__ import annotations

from typing import ClassVar

from .base import Context, Transformer, Upstream

__all__ = ["StreamOptions"]


class StreamOptions(Transformer):
    name: ClassVar[str] = "streamoptions"

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        if not up.body.get("stream"):
            return up
        options = dict(up.body.get("stream_options") or {})
        options["include_usage"] = True
        return up.with_body(stream_options=options)
