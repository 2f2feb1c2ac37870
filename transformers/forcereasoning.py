"""`forcereasoning`: make a model without native thinking reason in `<reasoning_content>` tags.

Request: earlier thinking (the last 10 assistant turns) goes back as tagged text in front of
the answer, and the last user turn gets an instruction to think first in those tags. Reply: the
tagged part becomes thinking, the rest stays text; in streams a tag may be cut anywhere, so a
small state machine holds back only what could still be the start of a tag.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import ClassVar

from ._util import copy_body
from .base import Context, Json, Transformer, Upstream

__all__ = ["ForceReasoning", "TagSplitter"]

OPEN, CLOSE = "<reasoning_content>", "</reasoning_content>"
PROMPT = ("Always think before answering. First write your step-by-step reasoning inside "
          f"{OPEN}...{CLOSE}, then write the answer after the closing tag. Output format: "
          f"{OPEN}your reasoning{CLOSE} your answer")
_KEEP_THINKING = 10
_TAGGED = re.compile(re.escape(OPEN) + r"(.*?)(?:" + re.escape(CLOSE) + r"|$)", re.S)


class TagSplitter:
    """Feed text pieces; get (thinking, text) pieces out, with tags removed."""

    def __init__(self) -> None:
        self.inside = False
        self.pending = ""

    def feed(self, piece: str) -> tuple[str, str]:
        self.pending += piece
        thinking: list[str] = []
        text: list[str] = []
        while self.pending:
            tag = CLOSE if self.inside else OPEN
            at = self.pending.find(tag)
            if at >= 0:
                (thinking if self.inside else text).append(self.pending[:at])
                self.pending = self.pending[at + len(tag):]
                self.inside = not self.inside
                continue
            keep = _partial_suffix(self.pending, tag)
            ready, self.pending = self.pending[:len(self.pending) - keep], self.pending[len(self.pending) - keep:]
            (thinking if self.inside else text).append(ready)
            break
        return "".join(thinking), "".join(text)

    def close(self) -> tuple[str, str]:
        rest, self.pending = self.pending, ""
        return (rest, "") if self.inside else ("", rest)


def _partial_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ForceReasoning(Transformer):
    name: ClassVar[str] = "forcereasoning"

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = copy_body(up.body)
        messages = body.get("messages") or []
        assistants = [m for m in messages if m.get("role") == "assistant"]
        for message in assistants[-_KEEP_THINKING:]:
            thinking = message.pop("thinking", None)
            if isinstance(thinking, dict) and thinking.get("content"):
                content = message.get("content")
                text = content if isinstance(content, str) else ""
                message["content"] = f"{OPEN}{thinking['content']}{CLOSE}{text}"
        for message in assistants[:-_KEEP_THINKING]:
            message.pop("thinking", None)
        if messages and messages[-1].get("role") == "user":
            content = messages[-1].get("content")
            if isinstance(content, list):
                messages[-1]["content"] = [*content, {"type": "text", "text": PROMPT}]
            else:
                messages[-1]["content"] = f"{content or ''}\n\n{PROMPT}"
        else:
            messages.append({"role": "user", "content": PROMPT})
        body["messages"] = messages
        return Upstream(up.url, body, up.headers)

    async def response(self, body: Json, ctx: Context) -> Json:
        for choice in body.get("choices") or ():
            message = choice.get("message") or {}
            content = message.get("content")
            if isinstance(content, str) and OPEN in content:
                found = _TAGGED.search(content)
                if found:
                    message["thinking"] = {"content": found.group(1).strip()}
                    message["content"] = (content[:found.start()] + content[found.end():]).strip()
        return body

    async def stream(self, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
        splitter = TagSplitter()
        async for chunk in chunks:
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                content = delta.get("content")
                if isinstance(content, str) and content:
                    thinking, text = splitter.feed(content)
                elif choice.get("finish_reason") or delta.get("tool_calls"):
                    thinking, text = splitter.close()
                else:
                    continue
                delta["content"] = text or None
                if thinking:
                    delta["thinking"] = {"content": thinking}
                choice["delta"] = delta
            yield chunk
