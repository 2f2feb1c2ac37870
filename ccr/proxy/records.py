"""One record per proxied request: what the canonical log line and the stats are made of."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RequestRecord", "TASK_HEADER"]

#: The header the execution API's Claude Code runs send, naming their task (`x-ccr-task: <id>`).
TASK_HEADER = "x-ccr-task"


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    provider: str = ""
    model: str = ""
    route_reason: str = ""
    stream: bool = False
    status: int = 0
    ttfb_ms: float | None = None
    duration_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    error: str | None = None
    task_id: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
