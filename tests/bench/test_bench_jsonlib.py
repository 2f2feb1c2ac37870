"""ccr.jsonlib: the fast JSON path writes what the standard library would mean, byte-safe for SSE."""

from __future__ import annotations

import json

import pytest

from ccr import jsonlib

SAMPLES = [
    {"text": "café \u2028 \u2029 \x85 \n \"q\" \\ \x00 emoji 🙂"},
    {"big": 2**70, "neg": -(2**65), "nested": [1, 2.5, None, True, {"k": "v"}]},
    {"lone": "\ud800x"},
    [],
    "plain",
]


@pytest.mark.parametrize("value", SAMPLES)
def test_round_trip_and_line_safety(value: object) -> None:
    out = jsonlib.dumps(value)
    assert isinstance(out, bytes)
    assert json.loads(out) == value
    assert jsonlib.loads(out) == value
    text = out.decode("utf-8")
    assert len(text.splitlines()) <= 1  # one SSE data line, whatever str.splitlines splits on


def test_non_ascii_is_written_as_utf8_but_line_breaks_are_escaped() -> None:
    out = jsonlib.dumps({"t": "é\u2028\u2029\x85"})
    assert out == b'{"t":"\xc3\xa9\\u2028\\u2029\\u0085"}'


def test_invalid_json_raises_value_error() -> None:
    with pytest.raises(ValueError):
        jsonlib.loads(b'{"a": ')


def test_64_bit_integers_are_read_exactly() -> None:
    raw = b'{"a": 18446744073709551615, "b": -9223372036854775808, "c": 9007199254740993}'
    assert jsonlib.loads(raw) == {"a": 2**64 - 1, "b": -(2**63), "c": 2**53 + 1}
