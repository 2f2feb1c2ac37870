"""The old build and this one side by side: both loaded at once, on the same core.

Rounds that run one target after another see a machine whose speed drifts: on a shared VM the
same build's CPU per request moves by a fifth within minutes, more than the few per cent the
old/new comparison is about. Two processes loaded at the same moments, pinned to the same core,
see the same drift, so the ratio of their CPU per request, taken round by round, holds still
(within about ±2 % here, where the sequential rounds' ratio swings by ±15 %). Which one's
requests are sent first alternates by round; the ratio reported is the median of the rounds'.

Latency is not reported from these rounds: each process waits for the other's turn on the core.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from typing import Any

from .loadgen import Target, run_case
from .report import Check

__all__ = ["Paired", "paired_rounds", "table", "check"]


@dataclass
class Paired:
    """One case's CPU per request (ms), round by round, for both builds."""

    size: str
    mode: str
    concurrency: int
    old_ms: list[float] = field(default_factory=list)
    new_ms: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """new / old per round: above 1 means this build costs more."""
        return [new / old for new, old in zip(self.new_ms, self.old_ms, strict=True) if old]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def where(self) -> str:
        return f"{self.size} {self.mode} c={self.concurrency}"


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
                for target, into in ((old, paired.old_ms), (new, paired.new_ms)):
                    run = by_name[target.name]
                    if run.errors or run.cpu is None or not run.samples:
                        raise RuntimeError(f"{target.name}: {workload.size} {workload.mode.name} "
                                           f"c={concurrency} failed side by side: {run.errors[:1]}")
                    into.append(run.cpu / len(run.samples) * 1000)
    return list(cases.values())


def table(results: list[Paired]) -> str:
    head = ("size", "mode", "conc", "old ms", "new ms", "new/old (median)", "new/old by round")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for p in results:
        lines.append("| " + " | ".join((
            p.size, p.mode, str(p.concurrency), f"{statistics.median(p.old_ms):.2f}",
            f"{statistics.median(p.new_ms):.2f}", f"{p.ratio:.3f}",
            " ".join(f"{r:.3f}" for r in p.ratios))) + " |")
    return "\n".join(lines)


def check(results: list[Paired]) -> Check:
    what = "CPU per request against the old build, side by side, any case"
    if not results:
        return Check(what, "≤ +5 %", "not measured", None)
    worst = max(results, key=lambda p: p.ratio)
    return Check(what, "≤ +5 %", f"worst {(worst.ratio - 1) * 100:+.1f} % ({worst.where()}, median of "
                 f"{len(worst.ratios)} rounds)", worst.ratio <= 1.05)
