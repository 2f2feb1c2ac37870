"""The client's side of a streamed /v1/chat/completions reply: OpenAI's SSE framing.

    data: {chunk}\n\n ... data: [DONE]\n\n

StreamOut (stream_out.py) does the rest: started with the first chunk, written in batches,
kept alive while the provider is silent. Keep-alives are SSE comments here (`: ping`), which
every SSE client skips; an Anthropic `ping` event would reach OpenAI clients as a chunk.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ccr import jsonlib
from ccr.api.stream_out import StreamOut

__all__ = ["ChatStreamOut", "COMMENT_PING", "DONE"]

COMMENT_PING = b": ping\n\n"
DONE = b"data: [DONE]\n\n"


class ChatStreamOut(StreamOut):
    def add(self, kind: str, data: Any = None) -> None:  # kind is unused: OpenAI frames have none
        self.buffer += b"data: " + jsonlib.dumps(data) + b"\n\n"

    def add_chunk(self, data: Any) -> None:
        self.add("", data)

    async def _ping(self) -> None:
        try:
            while not self.closed:
                await asyncio.sleep(max(self.last_write + self.keepalive - time.monotonic(), 0.0))
                if not self.closed and time.monotonic() - self.last_write >= self.keepalive:
                    await self.write(COMMENT_PING)
        except ConnectionError:
            return
