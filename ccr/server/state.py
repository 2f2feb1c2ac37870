"""Facts about the running server that handlers report (health, status)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class ServerState:
    config_path: Path | None
    started: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.monotonic)
    open_streams: int = 0  # streamed replies (/v1/messages, chat) in progress: the metrics' gauge

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic
