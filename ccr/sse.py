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

Work is linear in the bytes fed, however an event is cut: text is looked at only when a line
ends, a line's pieces are joined once, and complete lines of an unfinished event are parsed
into the event's fields rather than kept as text to be split again on the next read.

A consumer that knows what most events of its stream look like can say so (`expect`): every
event but one piece of it, the hole. A run of events that fit then comes out as one `HOLES`
event, the holes' text, found by splitting the read on what lies between two holes rather than
by looking at each event: a provider's stream is mostly text deltas that differ only there.

`encode_event` is the writer side: `event: <type>\\ndata: <json>\\n\\n`, as Anthropic sends it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import repeat
from operator import and_, getitem
from typing import Any, NamedTuple, cast

from . import jsonlib

__all__ = ["HOLES", "EventBoundary", "SSEDecoder", "SSEEvent", "encode_event", "event_boundary", "read_events"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SSEEvent(NamedTuple):  # a tuple: made once per streamed event, and cheapest to make
    event: str
    data: str
    id: str | None = None


_made = tuple.__new__  # SSEEvent's __new__ without its Python frame: made(SSEEvent, (event, data, id))


#: The type of an event that stands for a run of events that fit the decoder's template (see
#: `SSEDecoder.expect`); its data is each one's hole, in order, joined by NUL (which no hole may
#: contain). No stream can send it: a field's value never holds a line break. The events it
#: stands for are `message` events of a single `data:` line, and carry no `id`.
HOLES = "\nholes"


class _Template:
    """`data: <before><hole><after>` events: how to tell them, and their holes, in bulk."""

    __slots__ = ("after", "before", "between", "cut", "run")

    def __init__(self, before: str, after: str, hole: re.Pattern[str]) -> None:
        self.before, self.after = before, after
        self.between = after + _NEXT_DATA + before  # between two holes
        self.cut = slice(len(before), len(before) + len(after) and -len(after))
        self.run = re.compile(f"(?:(?:{hole.pattern})\x00)*", hole.flags).match  # holes, NUL after each

    def holes_in(self, holes: str) -> int:
        """How much of `holes` (a NUL after each) is holes, from its start."""
        found = self.run(holes)
        return found.end() if found is not None else 0  # (an empty match at least, always)

    def take(self, text: str, events: list[SSEEvent], general: Callable[[str], list[SSEEvent]]) -> None:
        """Put the events of `text` (which starts with `data: `, at an event's start) into
        `events`: runs of template events as HOLES events, the others as `general` decodes them.

        The text is split where events start with a `data:` line; every piece but the last is
        then the data of a one-line event or the start of something else. Which pieces fit the
        template, and which of their holes are holes, is told for all of them at once (C loops
        over the pieces, one match over the holes), not event by event."""
        pieces = text.split(_NEXT_DATA)
        pieces[0] = pieces[0][6:]
        last = pieces.pop()  # the last event (perhaps cut by the read), and what follows it
        holes = cast("list[str]", list(map(getitem, pieces, repeat(self.cut))))  # if they fit; whether
        # they do, all at once: rebuilt from the holes, the text up to `last` is the same (its only
        # _NEXT_DATA are where it was split, so the joins sit there, one for one)
        rebuilt = self.before + self.between.join(holes) + self.after
        if not pieces or (len(rebuilt) == len(text) - len(last) - 14 and text.startswith(rebuilt, 6)):
            fits = [True] * len(pieces)
        else:  # (the same test, piece by piece)
            fits = list(map(and_, map(str.startswith, pieces, repeat(self.before)),
                            map(str.endswith, pieces, repeat(self.after))))
        fits.append(False)
        start, count = 0, len(pieces)
        while start < count:
            if fits[start]:
                end = fits.index(False, start)
                self._holes(pieces, holes, start, end, events, general)
            else:
                end = fits.index(True, start) if True in fits[start:] else count
                events += general("data: " + _NEXT_DATA.join(pieces[start:end]) + "\n\n")
            start = end
        data, ended, rest = last.partition("\n\n")
        if ended and data.startswith(self.before) and data.endswith(self.after) \
                and self.holes_in(hole := data[self.cut] + "\x00") == len(hole):
            events.append(_made(SSEEvent, (HOLES, hole[:-1], None)))
            last = rest
        else:
            last = "data: " + last
        if last:
            events += general(last)

    def _holes(self, pieces: list[str], holes: list[str], start: int, end: int, events: list[SSEEvent],
               general: Callable[[str], list[SSEEvent]]) -> None:
        """Pieces `start` to `end` fit the template: a HOLES event for each run of them whose
        holes are holes, the general way for the others."""
        while start < end:
            run = "\x00".join(holes[start:end]) + "\x00"
            good = self.holes_in(run)
            if good:
                events.append(_made(SSEEvent, (HOLES, run[:good - 1], None)))
                start += run.count("\x00", 0, good)
            if start < end:  # not a hole: an event to decode the general way
                events += general("data: " + pieces[start] + "\n\n")
                start += 1


_NEXT_DATA = "\n\ndata: "  # where an event that starts with a `data:` line starts


class SSEDecoder:
    __slots__ = ("_data", "_event", "_has_data", "_id", "_line", "_started", "_template", "_text")

    def __init__(self) -> None:
        self._started = False  # a leading BOM is dropped (SSE spec)
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line: list[str] = []  # the unfinished last line's pieces (and a held-back CR)
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._has_data = False
        self._template: _Template | None = None

    def expect(self, before: str, after: str, hole: re.Pattern[str]) -> None:
        """From the next read on, runs of `data: <before><hole><after>` events come out as one
        `HOLES` event (`hole` matches a hole whole; it must match no CR, LF or NUL). `before`
        and `after` hold no line break. Any other event comes out as before."""
        if any(c in before + after for c in "\r\n"):
            raise ValueError("a template holds no line break")
        self._template = _Template(before, after, hole)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._decode(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        line = self._line
        if "\n" not in text and "\r" not in text and not (line and line[-1][-1] == "\r"):
            line.append(text)  # no line ends here (nor a held-back CR): nothing to parse yet
            return []
        if line:
            line.append(text)
            text = "".join(line)
            line.clear()
        if "\r" not in text and not self._has_data and not self._event:
            return self._feed_blocks(text)
        # A trailing CR may be the first half of CRLF: keep it for the next read.
        held = ""
        if text.endswith("\r"):
            text, held = text[:-1], "\r"
        lines = _LINE_BREAK.split(text)
        rest = lines.pop() + held  # the last piece has no line break yet
        if rest:
            line.append(rest)
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
        """LF line ends, nothing half-parsed: runs of template events taken whole, the rest by
        `_split_blocks`."""
        template = self._template
        if template is None or "\x00" in text:  # (NUL joins the holes of a HOLES event)
            return self._split_blocks(text)
        if text.startswith("data: "):
            events: list[SSEEvent] = []
        else:  # the events before the first that starts with a `data:` line
            cut = text.find(_NEXT_DATA) + 2
            if cut == 1:
                return self._split_blocks(text)
            events = self._split_blocks(text[:cut])
            text = text[cut:]
        template.take(text, events, self._split_blocks)
        return events

    def _split_blocks(self, text: str) -> list[SSEEvent]:
        """The common case (LF line ends, nothing half-parsed): whole events at a time, and an
        event of a single `data:` line without the per-line machinery."""
        blocks = text.split("\n\n")
        last = blocks.pop()
        # The commonest read: one-line `data: ` events only (every LF is in a blank-line pair,
        # and each pair is followed by `data: `), perhaps with the start of the next one.
        if (blocks and text.startswith("data: ") and text.count("\n") == 2 * len(blocks)
                and text.count("\n\ndata: ") == len(blocks) - 1 + last.startswith("data: ")):
            if last:
                self._line.append(last)
            made, last_id = _made, self._id
            return [made(SSEEvent, ("message", block[6:], last_id)) for block in blocks]
        events: list[SSEEvent] = []
        append, made, last_id = events.append, _made, self._id  # per event: no look-ups, no Python call
        for block in blocks:
            if "\n" not in block and block.startswith("data:"):
                value = block[6:] if block.startswith(" ", 5) else block[5:]  # one space is part of the field
                append(made(SSEEvent, ("message", value, last_id)))
                continue
            self._lines([*block.split("\n"), ""], events)  # the blank line that ended it
            last_id = self._id  # an `id:` line there holds for the events after it
        if last:  # the unfinished event: its complete lines are parsed now, never again
            lines = last.split("\n")
            partial = lines.pop()
            if partial:
                self._line.append(partial)
            self._lines(lines, events)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: flush a final event that lacked its blank line."""
        self._line.append(self._text.decode(b"", final=True))
        text = "".join(self._line)
        self._line = []
        events: list[SSEEvent] = []
        self._lines([*(_LINE_BREAK.split(text) if text else ()), ""], events)
        return events

    def _lines(self, lines: list[str], events: list[SSEEvent]) -> None:
        for line in lines:
            event = self._parse(line)
            if event is not None:
                events.append(event)

    def _parse(self, line: str) -> SSEEvent | None:
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


_SLICE = 4096
_FIRST_SLICE = 512


async def read_events(chunks: AsyncIterator[bytes], before_read: Callable[[], Awaitable[None]] | None = None,
                      decoder: SSEDecoder | None = None) -> AsyncIterator[list[SSEEvent]]:
    """The events of a byte stream, a list per read (never an empty one). `before_read` is
    awaited whenever the next read may have to wait for the network: a writer flushes there
    what the last read produced, in one write. A big read is decoded a slice at a time, so
    that its first events go out first; the stream's first slice is small, so that they go out
    sooner still, and so that a caller who learns from them what to expect (`decoder` is the
    caller's, for `SSEDecoder.expect`) can say it before most of the read is decoded."""
    decoder = decoder if decoder is not None else SSEDecoder()
    size = _FIRST_SLICE
    while True:
        if before_read is not None:
            await before_read()
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            tail = decoder.close()
            if tail:
                yield tail
            return
        start = 0
        while start < len(chunk):
            events = decoder.feed(chunk[start:start + size])
            start += size
            size = _SLICE
            if events:
                yield events


_EVENT_ENDS = (b"\n\n", b"\r\r", b"\r\n\r\n", b"\n\r\n")
_LONGEST_END = max(map(len, _EVENT_ENDS))


def event_boundary(buffer: bytes | bytearray, start: int = 0) -> int:
    """The end of the last complete event in `buffer` (0 if none): the point up to which raw
    bytes can be passed on without ever handing a client half an event. Only terminators that
    end at or after `start` are looked for (see EventBoundary)."""
    end = 0
    for terminator in _EVENT_ENDS:
        found = buffer.rfind(terminator, start)
        if found >= 0:
            end = max(end, found + len(terminator))
    return end


class EventBoundary:
    """Raw bytes in, whole events out, in time linear in the bytes: a read is searched for an
    event's end only where it is new (and the few bytes before it that a terminator may
    straddle), not from the start of a large unfinished event every time.

        cut = EventBoundary()
        for chunk in chunks:
            whole = cut.feed(chunk)    # b"" while no event has ended
        rest = cut.rest()
    """

    __slots__ = ("_pending", "_searched")

    def __init__(self) -> None:
        self._pending = bytearray()
        self._searched = 0  # bytes of _pending already searched for a terminator

    def feed(self, chunk: bytes) -> bytes:
        pending = self._pending
        pending += chunk
        end = event_boundary(pending, max(self._searched - _LONGEST_END + 1, 0))
        self._searched = len(pending)
        if not end:
            return b""
        whole = bytes(pending[:end])
        del pending[:end]
        self._searched = len(pending)
        return whole

    def rest(self) -> bytes:
        """What is left after the last whole event."""
        return bytes(self._pending)


def encode_event(event_type: str, data: Any) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event_type.encode(), jsonlib.dumps(data))
