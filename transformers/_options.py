"""Checks for transformer options, so a bad value fails when the config loads."""

from __future__ import annotations

from typing import Any

__all__ = ["positive_int", "number", "optional_positive_int"]


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"option {name!r} must be a positive whole number, got {value!r}")
    return value


def optional_positive_int(name: str, value: Any) -> int | None:
    return None if value is None else positive_int(name, value)


def number(name: str, value: Any, low: float | None = None, high: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"option {name!r} must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"option {name!r} must be between {low} and {high}, got {value!r}")
    return value
