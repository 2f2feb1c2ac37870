"""Limits on what clients send, read from the config's top level, and numbers a config may hold.

    MAX_BODY_MB     the largest request body ccr reads, in MB (default 50, 1..4096): 413 past it

    data = finite_only(data, problems)   # NaN / Infinity dropped, each named in `problems`
    problems(data)                       # what is wrong with the keys above
    max_body_bytes(data)                 # MAX_BODY_MB in bytes

JSON5 reads `NaN`, `Infinity` and `1e400` (as inf) without complaint, and every later check
(`int(value)`, ranges) would trip on them: they are refused by key, like any wrong value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["finite_only", "problems", "max_body_bytes", "bounded_whole", "DEFAULT_MAX_BODY_MB"]

DEFAULT_MAX_BODY_MB = 50  # a long Claude Code session with screenshots fits
_MAX_BODY_RANGE = (1, 4096)


def finite_only(value: Any, found: list[str], where: str = "") -> Any:
    """A copy of `value` without its NaN / ±Infinity numbers, one problem line for each."""
    if isinstance(value, float) and not math.isfinite(value):
        found.append(f"{where or '(root)'}: {value!r} is not a number ccr accepts; use a finite number")
        return None
    if isinstance(value, dict):
        return {k: finite_only(v, found, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_only(v, found, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _max_body_mb(data: Mapping[str, Any], found: list[str] | None = None) -> int:
    low, high = _MAX_BODY_RANGE
    return bounded_whole(data.get("MAX_BODY_MB"), "MAX_BODY_MB", "MB", DEFAULT_MAX_BODY_MB, low, high, found)


def bounded_whole(value: Any, key: str, unit: str, default: int, low: int, high: int,
                  found: list[str] | None = None) -> int:
    """A top-level setting that is a whole number of `unit` from `low` to `high`: missing or ""
    is `default`, digits as text are read (the UI stores numbers as text), anything else is a
    problem in `found` and `default`."""
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        if found is not None:
            found.append(f"{key}: expected a whole number of {unit} from {low} to {high}, got {value!r}")
        return default
    return value


def problems(data: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    _max_body_mb(data, found)
    return found


def max_body_bytes(data: Mapping[str, Any]) -> int:
    """MAX_BODY_MB in bytes (the default when the value is missing or invalid)."""
    return _max_body_mb(data) * 1024 * 1024
