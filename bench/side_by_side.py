"""The old build and this one side by side: both loaded at once, on the same core.

Rounds that run one target after another see a machine whose speed drifts: on a shared VM the
same build's CPU per request moves by a fifth within minutes, more than the few per cent the
old/new comparison is about. Two processes loaded at the same moments, pinned to the same core,
see the same drift, so the ratio of their CPU per request, taken round by round, holds still
(within about ±2 % here, where the sequential rounds' ratio swings by ±15 %). Which one's
requests are sent first alternates by round; the ratio reported is the median of the rounds'.

The process's CPU and its main thread's (the event loop: the hot path, which every request
waits on; the usage ledger writes from a thread of its own) are both taken. Latency is not
reported from these rounds: each process waits for the other's turn on the core.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .loadgen import Target, run_case
from .report import Check

__all__ = ["Paired", "paired_rounds", "table", "checks"]


@dataclass
class Paired:
    """One case's CPU per request (ms), round by round, for both builds: the whole process's and
    the event loop thread's."""

    size: str
    mode: str
    concurrency: int
    old_ms: list[float] = field(default_factory=list)
    new_ms: list[float] = field(default_factory=list)
    old_loop_ms: list[float] = field(default_factory=list)
    new_loop_ms: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """new / old per round: above 1 means this build costs more."""
        return _ratios(self.new_ms, self.old_ms)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def loop_ratios(self) -> list[float]:
        return _ratios(self.new_loop_ms, self.old_loop_ms)

    @property
    def loop_ratio(self) -> float:
        return statistics.median(self.loop_ratios)

    def where(self) -> str:
        return f"{self.size} {self.mode} c={self.concurrency}"


def _ratios(new: list[float], old: list[float]) -> list[float]:
    return [n / o for n, o in zip(new, old, strict=True) if o]


async def paired_rounds(old: Target, new: Target, workloads: list[Any], levels: list[int], *,
                        rounds: int, seconds: float, max_requests: int, seq: list[int]) -> list[Paired]:
    cases: dict[tuple[str, str, int], Paired] = {}
    for round_no in range(rounds):
        for concurrency in levels:
            for workload in workloads:
                key = (workload.size, workload.mode.name, concurrency)
                paired = cases.setdefault(key, Paired(*key))
                order = (old, new) if round_no % 2 == 0 else (new, old)
                runs = await asyncio.gather(*(run_case(t, workload, concurrency, max_requests=max_requests,
                                                       max_seconds=seconds, seq=seq) for t in order))
                by_name = {run.target: run for run in runs}
                for target, into, loop_into in ((old, paired.old_ms, paired.old_loop_ms),
                                                (new, paired.new_ms, paired.new_loop_ms)):
                    run = by_name[target.name]
                    if run.errors or run.cpu is None or run.loop_cpu is None or not run.samples:
                        raise RuntimeError(f"{target.name}: {workload.size} {workload.mode.name} "
                                           f"c={concurrency} failed side by side: {run.errors[:1]}")
                    into.append(run.cpu / len(run.samples) * 1000)
                    loop_into.append(run.loop_cpu / len(run.samples) * 1000)
    return list(cases.values())


def table(results: list[Paired]) -> str:
    head = ("size", "mode", "conc", "old ms", "new ms", "new/old (median)", "new/old by round",
            "loop old ms", "loop new ms", "loop new/old (median)")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for p in results:
        lines.append("| " + " | ".join((
            p.size, p.mode, str(p.concurrency), f"{statistics.median(p.old_ms):.2f}",
            f"{statistics.median(p.new_ms):.2f}", f"{p.ratio:.3f}",
            " ".join(f"{r:.3f}" for r in p.ratios), f"{statistics.median(p.old_loop_ms):.2f}",
            f"{statistics.median(p.new_loop_ms):.2f}", f"{p.loop_ratio:.3f}")) + " |")
    return "\n".join(lines)


def checks(results: list[Paired]) -> list[Check]:
    """The whole process's CPU per request and the event loop's, each at most 5 % above the old
    build's in every case (the median of the rounds' ratios)."""
    out = []
    pick: tuple[tuple[str, Callable[[Paired], float]], ...] = (
        ("CPU per request against the old build, side by side, any case", lambda p: p.ratio),
        ("Event-loop CPU per request against the old build, side by side, any case", lambda p: p.loop_ratio))
    for what, ratio in pick:
        if not results:
            out.append(Check(what, "≤ +5 %", "not measured", None))
            continue
        worst = max(results, key=ratio)
        out.append(Check(what, "≤ +5 %", f"worst {(ratio(worst) - 1) * 100:+.1f} % ({worst.where()}, median "
                         f"of {len(worst.ratios)} rounds)", ratio(worst) <= 1.05))
    return out
