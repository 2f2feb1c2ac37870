"""The client's side of a streamed /v1/chat/completions reply: OpenAI's SSE framing.

    data: {chunk}\n\n ... data: [DONE]\n\n

StreamOut (stream_out.py) does the rest: started with the first chunk, written in batches,
kept alive while the provider is silent. Keep-alives are SSE comments here (`: ping`), which
every SSE client skips; an Anthropic `ping` event would reach OpenAI clients as a chunk.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ccr import jsonlib
from ccr.server.api.stream_out import StreamOut

__all__ = ["ChatStreamOut", "COMMENT_PING", "DONE"]

COMMENT_PING = b": ping\n\n"
DONE = b"data: [DONE]\n\n"


class ChatStreamOut(StreamOut):
    keepalive_frame: ClassVar[bytes] = COMMENT_PING

    def add(self, kind: str, data: Any = None) -> None:  # kind is unused: OpenAI frames have none
        self.buffer += b"data: " + jsonlib.dumps(data) + b"\n\n"
        if not self.content_started and _carries_content(data):
            self.content_started = self.flush_now = True

    def add_chunk(self, data: Any) -> None:
        self.add("", data)


def _carries_content(chunk: Any) -> bool:
    return isinstance(chunk, dict) and any(
        isinstance(choice, dict) and isinstance(choice.get("delta"), dict)
        and any(choice["delta"].get(field) for field in _CONTENT_FIELDS)
        for choice in chunk.get("choices") or ())


_CONTENT_FIELDS = ("content", "tool_calls", "reasoning_content", "reasoning")
