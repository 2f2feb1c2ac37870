"""The token counter and the router alone, in this process (no HTTP).

- a Claude Code conversation of about 100k tokens counted from scratch (a new counter, so
  nothing is cached), then the same conversation with one new turn (what every request of a
  long session costs);
- `Router.route` with the long-context rule on, on a Claude Code-sized body whose last turn is
  new every time (what routing costs per request).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .workloads import MODES, build

__all__ = ["CountingResult", "measure"]


@dataclass
class CountingResult:
    conversation_tokens: int
    scratch_ms: float        # the whole 100k conversation, nothing cached
    new_turn_ms: float       # median: the same conversation plus one new turn
    route_ms: float          # median: Router.route on a Claude Code-sized body, new last turn
    route_scratch_ms: float  # Router.route on a body the counter has never seen


def _long_conversation(target_tokens: int, counter: Any) -> dict[str, Any]:
    body = json.loads(build("claude-code", MODES["stream"]).anthropic_body(0))
    turn = 0
    filler = body["messages"][2]["content"][0]["content"]  # a tool_result text
    while counter.request(body) < target_tokens:
        turn += 1
        _add_turn(body, turn, filler)
    return body


def _add_turn(body: dict[str, Any], turn: int, filler: str) -> None:
    call = f"toolu_long{turn:05d}"
    body["messages"][-1:-1] = [
        {"role": "assistant", "content": [
            {"type": "text", "text": f"Step {turn}: reading the next file."},
            {"type": "tool_use", "id": call, "name": "Read", "input": {"file_path": f"/src/f{turn}.py"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call, "content": f"[{turn}] {filler}"}]},
    ]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


async def measure(repeats: int = 20) -> CountingResult:
    from ccr.proxy.tokens import TokenCounter

    # tiktoken keeps loaded vocabularies per process: this loads it once before any timing.
    TokenCounter().text("load the vocabulary before timing anything")
    body = _long_conversation(100_000, TokenCounter())

    scratch = TokenCounter()
    t0 = time.perf_counter()
    tokens = scratch.request(body)
    scratch_ms = (time.perf_counter() - t0) * 1000

    filler = "A new tool result, different every turn. " * 40
    turns = []
    for i in range(repeats):
        _add_turn(body, 10_000 + i, f"{i} {filler}")
        fresh = json.loads(json.dumps(body))  # new string objects, as parsed from each request
        t0 = time.perf_counter()
        scratch.request(fresh)
        turns.append((time.perf_counter() - t0) * 1000)
    route_ms, route_scratch_ms = await _route_cost(repeats)
    return CountingResult(tokens, scratch_ms, _median(turns), route_ms, route_scratch_ms)


async def _route_cost(repeats: int) -> tuple[float, float]:
    from ccr.config import parse
    from ccr.proxy.router import Router
    from ccr.proxy.tokens import TokenCounter

    with tempfile.TemporaryDirectory() as home:
        config = parse({"Providers": [{"name": "bench", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                                       "api_key": "sk-bench", "models": ["bench-model"]}],
                        # 30000 (below the ~47 KB body's byte length, above its ~12k tokens): the
                        # router must count exactly, which is the cost worth measuring
                        "Router": {"default": "bench,bench-model", "longContext": "bench,bench-model",
                                   "longContextThreshold": 30000}}, home=Path(home))
    router = Router(config, TokenCounter())
    workload = build("claude-code", MODES["stream"])

    times = []
    first = json.loads(workload.anthropic_body(0))
    t0 = time.perf_counter()
    await router.route(first, None)
    scratch = (time.perf_counter() - t0) * 1000
    for i in range(1, repeats + 1):
        body = json.loads(workload.anthropic_body(i))
        t0 = time.perf_counter()
        await router.route(body, None)
        times.append((time.perf_counter() - t0) * 1000)
    return _median(times), scratch
