"""Server-sent events: the only module that knows SSE framing.

`SSEDecoder` is sans-IO: feed it bytes as they arrive, get complete events back. It decodes
UTF-8 incrementally (a character may be split across reads), splits lines on CR, LF and CRLF
only (never on U+2028, which may sit raw inside JSON), and holds back a trailing CR until it
knows whether an LF follows.

    decoder = SSEDecoder()
    for chunk in byte_chunks:
        for event in decoder.feed(chunk):
            ...
    tail = decoder.close()      # an event not terminated by a blank line

`encode_event` is the writer side: `event: <type>\\ndata: <json>\\n\\n`, as Anthropic sends it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from . import jsonlib

__all__ = ["SSEEvent", "SSEDecoder", "aiter_events", "encode_event", "encode_comment", "dumps",
           "event_boundary"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SSEEvent(NamedTuple):  # a tuple: made once per streamed event, and cheapest to make
    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


class SSEDecoder:
    __slots__ = ("_buffer", "_data", "_event", "_has_data", "_id", "_started", "_text")

    def __init__(self) -> None:
        self._started = False  # a leading BOM is dropped (SSE spec)
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._has_data = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._buffer + self._decode(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if "\r" not in text and not self._has_data and not self._event:
            return self._feed_blocks(text)
        # A trailing CR may be the first half of CRLF: keep it for the next read.
        if text.endswith("\r"):
            text, self._buffer = text[:-1], "\r"
        else:
            self._buffer = ""
        lines = _LINE_BREAK.split(text)
        self._buffer = lines.pop() + self._buffer  # the last piece has no line break yet
        events: list[SSEEvent] = []
        self._lines(lines, events)
        return events

    def _decode(self, chunk: bytes) -> str:
        """UTF-8 text of a read; the incremental decoder only when a character is split across
        reads or a byte is invalid (it then replaces it), which a strict decode of the whole
        read tells at no cost in the common case."""
        if not self._text.buffer:  # no bytes held back
            try:
                return chunk.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return self._text.decode(chunk)

    def _feed_blocks(self, text: str) -> list[SSEEvent]:
        """The common case (LF line ends, nothing half-parsed): whole events at a time, and an
        event of a single `data:` line without the per-line machinery. The unfinished last
        event stays in the buffer as text."""
        blocks = text.split("\n\n")
        self._buffer = blocks.pop()
        events: list[SSEEvent] = []
        for block in blocks:
            if block.startswith("data:") and "\n" not in block:
                value = block[5:]
                events.append(SSEEvent("message", value[1:] if value.startswith(" ") else value, self._id))
                continue
            self._lines([*block.split("\n"), ""], events)  # the blank line that ended it
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: flush a final event that lacked its blank line."""
        text = self._buffer + self._text.decode(b"", final=True)
        self._buffer = ""
        events: list[SSEEvent] = []
        self._lines([*(_LINE_BREAK.split(text) if text else ()), ""], events)
        return events

    def _lines(self, lines: list[str], events: list[SSEEvent]) -> None:
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._has_data:
                self._event = ""
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._has_data = "", [], False
            return event
        if line[0] == ":":
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None


async def aiter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[SSEEvent]]:
    """Decode an async byte stream into batches of events, one batch per read.

    Batches (rather than single events) let the writer send everything one read produced in
    one write, which matters when tokens arrive paced.
    """
    decoder = SSEDecoder()
    async for chunk in chunks:
        events = decoder.feed(chunk)
        if events:
            yield events
    tail = decoder.close()
    if tail:
        yield tail


_EVENT_ENDS = (b"\n\n", b"\r\r", b"\r\n\r\n", b"\n\r\n")


def event_boundary(buffer: bytes | bytearray) -> int:
    """The end of the last complete event in `buffer` (0 if none): the point up to which raw
    bytes can be passed on without ever handing a client half an event."""
    end = 0
    for terminator in _EVENT_ENDS:
        found = buffer.rfind(terminator)
        if found >= 0:
            end = max(end, found + len(terminator))
    return end


def dumps(data: Any) -> str:
    # jsonlib escapes U+2028/U+2029/U+0085, which line-splitting clients
    # (httpx iter_lines uses str.splitlines) would otherwise treat as line breaks.
    return jsonlib.dumps_str(data)


def encode_event(event_type: str, data: Any) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event_type.encode(), jsonlib.dumps(data))


def encode_comment(text: str = "ping") -> bytes:
    return f": {text}\n\n".encode()
