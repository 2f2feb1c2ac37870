"""A decoder told what most events look like (`SSEDecoder.expect`) decodes the same events as
one that was not: a run of events that fit comes as one HOLES event, which stands for exactly
the events it replaces, however the bytes are cut and whatever sits between the runs."""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccr.sse import HOLES, SSEDecoder, SSEEvent

BEFORE, AFTER = '{"id":"c-1","choices":[{"delta":{"content":', '},"finish_reason":null}]}'
HOLE = re.compile(r'"[^"\\\x00-\x1f]+"')


def _fits(text: str) -> str:
    return f"data: {BEFORE}{text}{AFTER}\n\n"


EVENTS = {
    "hole": _fits('"w1 "'),
    "hole-utf8": _fits('"caf\u00e9 \U0001f389\u2028"'),
    "escaped": _fits('"say \\"hi\\""'),     # the same shape, but its literal is not a hole
    "empty": _fits('""'),
    "other": 'data: {"id":"c-1","choices":[{"delta":{},"finish_reason":"stop"}]}\n\n',
    "tight": f"data:{BEFORE}\"no space\"{AFTER}\n\n",  # the same data, written without the space
    "typed": f"event: delta\ndata: {BEFORE}\"typed\"{AFTER}\n\n",
    "id": f"id: 7\ndata: {BEFORE}\"after id\"{AFTER}\n\n",
    "two-lines": f"data: {BEFORE}\"a\ndata: b\"{AFTER}\n\n",
    "comment": ": keep-alive\n\n",
    "prefix-only": f"data: {BEFORE}\n\n",
    "crlf": f"data: {BEFORE}\"crlf\"{AFTER}\r\n\r\n",
    "done": "data: [DONE]\n\n",
}


def _decode(parts: list[bytes], expect_after: int | None) -> list[SSEEvent]:
    """The events of `parts`, told what to expect once `expect_after` reads are in (never if None)."""
    decoder, events = SSEDecoder(), []
    for n, part in enumerate(parts):
        if n == expect_after:
            decoder.expect(BEFORE, AFTER, HOLE)
        events += decoder.feed(part)
    return events + decoder.close()


def _expanded(events: list[SSEEvent]) -> list[tuple[str, str]]:
    out = []
    for event in events:
        if event.event == HOLES:
            assert event.id is None
            out += [("message", BEFORE + hole + AFTER) for hole in event.data.split("\x00")]
        else:
            out.append((event.event, event.data))
    return out


def _cut(payload: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted({c % (len(payload) + 1) for c in cuts}), len(payload)]
    return [payload[a:b] for a, b in itertools.pairwise(points) if b > a]


def _plain(payload: bytes) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in _decode([payload], None)]


def test_a_run_comes_as_one_event_and_the_rest_as_before() -> None:
    names = ["hole", "hole", "hole-utf8", "escaped", "hole", "hole", "other", "tight", "hole", "typed",
             "hole", "id", "hole", "two-lines", "hole", "empty", "hole", "comment", "hole", "prefix-only",
             "hole", "hole", "done"]
    payload = "".join(EVENTS[n] for n in names).encode()
    events = _decode([payload], 0)
    assert _expanded(events) == _plain(payload)
    runs = [e.data.split("\x00") for e in events if e.event == HOLES]
    assert runs[0] == ['"w1 "', '"w1 "', '"caf\u00e9 \U0001f389\u2028"']  # the escaped one ends the run
    # every hole is taken but one whose event is followed by one that does not start with a
    # `data: ` line (the read is split where such a line starts): that one goes the general way
    fits = [n in ("hole", "hole-utf8") and EVENTS[names[i + 1]].startswith("data: ") for i, n in enumerate(names)]
    assert sum(map(len, runs)) == sum(fits) == 10
    # an id line holds for the events after it, but not for those a HOLES event stands for
    assert [e.id for e in events if e.event == "message" and "after id" in e.data] == ["7"]


def test_every_single_cut_point() -> None:
    names = ["hole", "escaped", "hole", "hole", "other", "hole", "id", "hole", "hole", "comment", "hole", "done"]
    payload = "".join(EVENTS[n] for n in names).encode()
    whole = _plain(payload)
    for cut in range(1, len(payload)):
        for told in (0, 1):
            assert _expanded(_decode([payload[:cut], payload[cut:]], told)) == whole, (cut, told)


def test_a_template_holds_no_line_break() -> None:
    decoder = SSEDecoder()
    for before, after in (("{\n", "}"), ("{", "\r}")):
        try:
            decoder.expect(before, after, HOLE)
        except ValueError:
            continue
        raise AssertionError("a line break in a template was taken")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(st.sampled_from(sorted(EVENTS)), max_size=30), cuts=st.lists(st.integers(0, 10**6), max_size=12),
       told=st.integers(0, 4))
def test_any_stream_cut_anywhere(names: list[str], cuts: list[int], told: int) -> None:
    payload = "".join(EVENTS[n] for n in ["hole", *names, "hole", "hole"]).encode()
    assert _expanded(_decode(_cut(payload, cuts), told)) == _plain(payload)
