"""Settings of the config-file store and the request inspector, read from the top level.

    CONFIG_BACKUPS          how many timestamped backups a save keeps (default 3, 0..100)
    INSPECTOR               keep the last requests' bodies for the UI's inspector (default off)
    INSPECTOR_MAX_REQUESTS  how many exchanges it keeps (default 50, 1..1000)
    INSPECTOR_MAX_BYTES     how many body bytes it keeps in all (default 8 MB, 64 KB..256 MB)

`problems(data)` lists what is wrong with them, for `parse()` to report with the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["InspectorSettings", "config_backups", "inspector_settings", "problems"]

_INTEGERS: dict[str, tuple[int, int, int]] = {  # key: (default, low, high)
    "CONFIG_BACKUPS": (3, 0, 100),
    "INSPECTOR_MAX_REQUESTS": (50, 1, 1000),
    "INSPECTOR_MAX_BYTES": (8 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
}


@dataclass(frozen=True, slots=True)
class InspectorSettings:
    enabled: bool = False
    max_requests: int = 50
    max_bytes: int = 8 * 1024 * 1024


def _integer(data: Mapping[str, Any], key: str, found: list[str] | None = None) -> int:
    default, low, high = _INTEGERS[key]
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().isdigit():  # the UI stores numbers as text
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        if found is not None:
            found.append(f"{key}: expected a whole number, got {value!r}")
        return default
    if not low <= value <= high:
        if found is not None:
            found.append(f"{key}: {value} is out of range {low}..{high}")
        return default
    return value


def _switch(data: Mapping[str, Any], key: str, found: list[str] | None = None) -> bool:
    value = data.get(key, False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        if found is not None:
            found.append(f"{key}: expected true or false, got {value!r}")
        return False
    return value


def config_backups(data: Mapping[str, Any]) -> int:
    return _integer(data, "CONFIG_BACKUPS")


def inspector_settings(data: Mapping[str, Any]) -> InspectorSettings:
    return InspectorSettings(_switch(data, "INSPECTOR"), _integer(data, "INSPECTOR_MAX_REQUESTS"),
                             _integer(data, "INSPECTOR_MAX_BYTES"))


def problems(data: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for key in _INTEGERS:
        _integer(data, key, found)
    _switch(data, "INSPECTOR", found)
    return found
