"""Several API keys for one provider: rotate per request, rest a key that was refused.

A key that got 401 or 429 is skipped for a cool-down; if every key is resting, the one that
rests the shortest is used anyway (better a likely 429 than no attempt).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

__all__ = ["KeyPool"]


class KeyPool:
    def __init__(self, keys: tuple[str, ...], cooldown: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.keys = keys
        self.cooldown = cooldown
        self._clock = clock
        self._turn = itertools.cycle(range(len(keys))) if keys else None
        self._resting: dict[str, float] = {}

    def next(self) -> str:
        if not self.keys or self._turn is None:
            return ""
        now = self._clock()
        for _ in range(len(self.keys)):
            key = self.keys[next(self._turn)]
            if self._resting.get(key, 0.0) <= now:
                return key
        return min(self.keys, key=lambda k: self._resting.get(k, 0.0))

    def refused(self, key: str, retry_after: float | None = None) -> None:
        """Rest `key` (after a 401 or 429) for the cool-down or the provider's retry-after."""
        if key and len(self.keys) > 1:
            self._resting[key] = self._clock() + (retry_after if retry_after else self.cooldown)
