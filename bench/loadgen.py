"""The load generator: N workers, each sending one request after another on its own connection.

A case is bounded both in count and in time: workers stop starting requests once `max_requests`
have been started or `max_seconds` have passed, and the case ends when the last one finishes.
Before the timed part every worker sends one untimed request, so connections are open and
both sides are warm. Every response is checked (see checks.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from . import checks
from .procs import Proc
from .workloads import Workload

__all__ = ["Target", "Sample", "CaseRun", "run_case"]


@dataclass
class Target:
    """Where requests go: the upstream alone (OpenAI dialect), ccr or the peer (Anthropic)."""

    name: str
    url: str
    dialect: str            # "openai" or "anthropic"
    proc: Proc | None = None

    def headers(self) -> dict[str, str]:
        if self.dialect == "openai":
            return {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
        return {"Content-Type": "application/json", "x-api-key": "bench",
                "anthropic-version": "2023-06-01"}


@dataclass
class Sample:
    latency: float
    ttfb: float
    first_text: float
    events: int
    problem: str | None


@dataclass
class CaseRun:
    target: str
    size: str
    mode: str
    concurrency: int
    wall: float = 0.0
    cpu: float | None = None         # seconds of CPU the measured process used
    loop_cpu: float | None = None    # of which its main thread (the event loop)
    rss_mb: float | None = None      # VmRSS right after the case
    samples: list[Sample] = field(default_factory=list)
    warm_errors: list[str] = field(default_factory=list)  # from the untimed first requests

    @property
    def errors(self) -> list[str]:
        return self.warm_errors + [s.problem for s in self.samples if s.problem]


def _checker(target: Target, stream: bool) -> tuple[Callable[[bytes, str], checks.Result], bytes]:
    """The check for this dialect and the bytes that mark the first text in a stream."""
    if target.dialect == "openai":
        return (checks.openai_stream, b'"content":"w0') if stream else (checks.openai_json, b"")
    return (checks.anthropic_stream, b'"text_delta"') if stream else (checks.anthropic_json, b"")


async def _one(session: aiohttp.ClientSession, target: Target, body: bytes, expected: str,
               stream: bool) -> Sample:
    check, needle = _checker(target, stream)
    started = time.perf_counter()
    first = text_at = None
    parts: list[bytes] = []
    tail = b""
    status = 0
    try:
        async with session.post(target.url, data=body, headers=target.headers()) as response:
            status = response.status
            async for chunk in response.content.iter_any():
                now = time.perf_counter()
                if first is None:
                    first = now
                if needle and text_at is None:
                    window = tail + chunk
                    if needle in window:
                        text_at = now
                    tail = window[-len(needle):]
                parts.append(chunk)
    except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
        end = time.perf_counter()
        return Sample(end - started, end - started, end - started, 0, f"{type(exc).__name__}: {exc}")
    end = time.perf_counter()
    raw = b"".join(parts)
    if status != 200:
        events, problem = 0, f"HTTP {status}: {raw[:300].decode(errors='replace')}"
    else:
        events, problem = check(raw, expected)
        if needle and text_at is None and problem is None:
            problem = "no text event seen"
    first = first or end
    return Sample(end - started, first - started, (text_at or end) - started, events, problem)


async def run_case(target: Target, workload: Workload, concurrency: int, *, max_requests: int,
                   max_seconds: float, seq: list[int]) -> CaseRun:
    """Run one case; `seq` is a shared counter so every request body in a run is unique."""
    stream = workload.mode.stream
    expected = workload.expected_text
    encode = workload.openai_body if target.dialect == "openai" else workload.anthropic_body
    result = CaseRun(target.name, workload.size, workload.mode.name, concurrency)

    def body() -> bytes:
        seq[0] += 1
        return encode(seq[0])

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        warm = await asyncio.gather(*(_one(session, target, body(), expected, stream)
                                      for _ in range(concurrency)))
        result.warm_errors.extend(s.problem for s in warm if s.problem)  # errors count; timings do not
        started = 0

        async def worker(deadline: float) -> None:
            nonlocal started
            while started < max_requests and time.perf_counter() < deadline:
                started += 1
                result.samples.append(await _one(session, target, body(), expected, stream))

        cpu_before = target.proc.cpu_seconds() if target.proc else None
        loop_before = target.proc.loop_cpu_seconds() if target.proc else 0.0
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(t0 + max_seconds) for _ in range(concurrency)))
        result.wall = time.perf_counter() - t0
        if target.proc is not None and cpu_before is not None:
            result.cpu = target.proc.cpu_seconds() - cpu_before
            result.loop_cpu = target.proc.loop_cpu_seconds() - loop_before
            result.rss_mb = target.proc.memory_mb()[0]
    return result
