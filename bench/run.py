"""`python -m bench`: start the fake upstream, the bare aiohttp converter and ccr (and optionally
claude-code-router), run every case in interleaved rounds, print one table, check the targets,
save the results.

    python -m bench                 # the full matrix (several minutes)
    python -m bench --quick         # a few seconds: the smoke test's run
    python -m bench --peer ccr      # also claude-code-router 2.0 from npm, same workload
    python -m bench --no-bare       # without the bare converter baseline
    python -m bench --baseline-tree ../wt-oldbuild   # an older build of ccr beside this one

With `--baseline-tree`, ccr from that checkout (e.g. `git worktree add ../wt-oldbuild REV`) runs
as `ccr-old` in the same rounds as this checkout's ccr, and a second table gives each case's
CPU per request and per streamed event for both builds, their ratio (old/new: above 1 means
this build is cheaper) and the bare converter's figure beside them. Then both builds run side
by side (bench/side_by_side.py: both loaded at once on one core, `--side-by-side-rounds`
rounds), which takes the machine's drift out of their CPU ratio.

The fake upstream and this load generator share core 0; the bare converter, ccr (and the peer)
get core 1, when the machine has two cores we may use. The bare converter (bench/bare.py) is the
floor of what aiohttp and the conversion cost here: ccr's CPU figures are also reported as a
multiple of its figures in the same case and run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import counting, report, side_by_side
from .loadgen import CaseRun, Target, run_case
from .procs import Proc, cores, pin, start_bare, start_ccr, start_peer, start_upstream
from .workloads import MODES, SIZES, Mode, build

__all__ = ["main", "run"]

RESULTS = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: small bounds, one round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time bound per case and round")
    parser.add_argument("--max-requests", type=int, default=4000, help="count bound per case and round")
    parser.add_argument("--concurrency", default="1,16,64,256", help="comma-separated levels")
    parser.add_argument("--sizes", default=",".join(SIZES), help="small,claude-code")
    parser.add_argument("--modes", default=",".join(MODES), help="json,stream,paced")
    parser.add_argument("--peer", choices=["ccr"], help="also measure claude-code-router 2.0 (npm)")
    parser.add_argument("--no-bare", action="store_true",
                        help="skip the bare aiohttp converter baseline (bench/bare.py)")
    parser.add_argument("--baseline-tree", type=Path, metavar="PATH",
                        help="also run ccr from this checkout (an older build) as `ccr-old`")
    parser.add_argument("--side-by-side-rounds", type=int, default=5, metavar="N",
                        help="with --baseline-tree: rounds of both builds loaded at once (0: none)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--no-counting", action="store_true", help="skip the token counter benchmark")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json and latest.md go")
    return parser


def _machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import aiohttp

    extras = [name for name in ("uvloop", "orjson") if _importable(name)]
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "aiohttp": aiohttp.__version__,
            "installed_extras": extras}


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _modes(names: list[str], quick: bool) -> list[Mode]:
    modes = [MODES[n] for n in names]
    if quick:  # a paced stream of 100 chunks takes a second; the smoke run keeps it short
        modes = [replace(m, chunks=10) if m.name == "paced" else m for m in modes]
    return modes


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.rounds, args.seconds, args.max_requests = 1, 0.25, 200
        args.side_by_side_rounds = min(args.side_by_side_rounds, 2)
        if args.concurrency == "1,16,64,256":
            args.concurrency = "1,8"
    levels = [int(c) for c in args.concurrency.split(",")]
    sizes = args.sizes.split(",")
    modes = _modes(args.modes.split(","), args.quick)
    available = cores()
    pinned = not args.no_pin and len(available) >= 2
    driver_core, proxy_core = (available[0], available[1]) if pinned else (None, None)
    if pinned:
        pin(os.getpid(), driver_core)
    meta = {**_machine(), "pinned": pinned, "rounds": args.rounds, "seconds": args.seconds,
            "max_requests": args.max_requests, "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    workloads = [build(size, mode) for size in sizes for mode in modes]
    procs: list[Proc] = []
    with tempfile.TemporaryDirectory(prefix="ccr-bench-") as tmp:
        try:
            upstream = await start_upstream(Path(tmp), driver_core)
            procs.append(upstream)
            # the upstream's own CPU per request is the machine's floor (what a wake-up costs here)
            targets = [Target("upstream", f"http://127.0.0.1:{upstream.port}/v1/chat/completions", "openai",
                              upstream)]
            if not args.no_bare:  # what aiohttp and the conversion alone cost, in the same run
                bare = await start_bare(Path(tmp), upstream.port, proxy_core)
                procs.append(bare)
                targets.append(Target("bare", f"http://127.0.0.1:{bare.port}/v1/messages", "anthropic",
                                      bare))
            if args.baseline_tree is not None:  # the old build, same core, same rounds
                old = await start_ccr(Path(tmp), upstream.port, proxy_core, tree=args.baseline_tree,
                                      name=report.OLD)
                procs.append(old)
                targets.append(Target(report.OLD, f"http://127.0.0.1:{old.port}/v1/messages", "anthropic",
                                      old))
            ccr = await start_ccr(Path(tmp), upstream.port, proxy_core)
            procs.append(ccr)
            targets.append(Target("ccr", f"http://127.0.0.1:{ccr.port}/v1/messages", "anthropic", ccr))
            if args.peer == "ccr":
                peer = await start_peer(Path(tmp), upstream.port, proxy_core)
                if peer is None:
                    print("peer: claude-code-router skipped (npm/node unavailable or the install failed)",
                          flush=True)
                else:
                    procs.append(peer)
                    targets.append(Target("claude-code-router", f"http://127.0.0.1:{peer.port}/v1/messages",
                                          "anthropic", peer))
            memory = {t.name: {"start": t.proc.memory_mb()[0]} for t in targets if t.proc}
            seq = [0]  # one counter for the run: every request body in it is unique
            runs = await _rounds(args, targets, workloads, levels, memory, seq)
            paired: list[side_by_side.Paired] = []
            if args.baseline_tree is not None and args.side_by_side_rounds > 0:
                by_name = {t.name: t for t in targets}
                paired = await side_by_side.paired_rounds(
                    by_name[report.OLD], by_name["ccr"], workloads, levels, rounds=args.side_by_side_rounds,
                    seconds=args.seconds, max_requests=args.max_requests, seq=seq)
            for t in targets:
                if t.proc:
                    memory[t.name]["peak"] = t.proc.memory_mb()[1]
        finally:
            for proc in reversed(procs):
                proc.stop()
    rows = report.aggregate(runs)
    counted = None if args.no_counting else await counting.measure(5 if args.quick else 20)
    checks = report.targets(rows, memory.get("ccr", {}), counted)
    if args.baseline_tree is not None:
        meta["baseline_tree"] = str(args.baseline_tree)
        meta["baseline_rev"] = _revision(args.baseline_tree)
        checks += report.old_new_targets(rows)
        if paired:
            checks += side_by_side.checks(paired)
    results = report.to_json(rows, checks, {**meta, "memory_mb": memory}, counted)
    results["side_by_side"] = [{"size": p.size, "mode": p.mode, "concurrency": p.concurrency,
                                "old_ms": p.old_ms, "new_ms": p.new_ms, "new_over_old": p.ratio,
                                "old_loop_ms": p.old_loop_ms, "new_loop_ms": p.new_loop_ms,
                                "loop_new_over_old": p.loop_ratio}
                               for p in paired]
    _print(results, rows, checks, counted, memory, paired)
    _save(args.out, results, rows, checks, counted, memory, paired)
    return results


async def _rounds(args: argparse.Namespace, targets: list[Target], workloads: list[Any],
                  levels: list[int], memory: dict[str, dict[str, float]], seq: list[int]) -> list[CaseRun]:
    runs: list[CaseRun] = []
    total = args.rounds * len(workloads) * len(levels) * len(targets)
    done = 0
    for round_no in range(args.rounds):
        for concurrency in levels:
            for workload in workloads:
                for target in targets:
                    run = await run_case(target, workload, concurrency, max_requests=args.max_requests,
                                         max_seconds=args.seconds, seq=seq)
                    runs.append(run)
                    done += 1
                    if target.proc and "idle" not in memory[target.name]:
                        memory[target.name]["idle"] = target.proc.memory_mb()[0]  # after its first case
                    print(f"[{done}/{total}] round {round_no + 1} {workload.size} {workload.mode.name} "
                          f"c={concurrency} {target.name}: {len(run.samples)} requests, "
                          f"{len(run.errors)} errors", file=sys.stderr, flush=True)
                    for target_proc in (t.proc for t in targets if t.proc):
                        if not target_proc.alive():
                            raise RuntimeError(f"{target_proc.name} died:\n{target_proc.output()}")
    return runs


def _revision(tree: Path) -> str:
    """The commit a checkout is at (for the record), or "unknown"."""
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def _counting_text(counted: counting.CountingResult | None) -> str:
    if counted is None:
        return ""
    return (f"Token counter: {counted.conversation_tokens:,}-token conversation from scratch "
            f"{counted.scratch_ms:.1f} ms, one new turn {counted.new_turn_ms:.2f} ms; "
            f"Router.route on a Claude Code body with a new turn {counted.route_ms:.3f} ms "
            f"(never seen before: {counted.route_scratch_ms:.2f} ms).")


def _memory_text(memory: dict[str, dict[str, float]]) -> str:
    return "; ".join(f"{name} RSS at start {m.get('start', 0):.0f} MB, idle after first case "
                     f"{m.get('idle', 0):.0f} MB, peak {m.get('peak', 0):.0f} MB"
                     for name, m in memory.items())


def _print(results: dict[str, Any], rows: list[report.Row], checks: list[report.Check],
           counted: counting.CountingResult | None, memory: dict[str, dict[str, float]],
           paired: list[side_by_side.Paired]) -> None:
    meta = results["meta"]
    print(f"\n{meta['cpu']}, {meta['cores']} cores, Python {meta['python']}, aiohttp {meta['aiohttp']}"
          f", extras: {', '.join(meta['installed_extras']) or 'none'}, pinned: {meta['pinned']}")
    print(report.table(rows))
    print()
    if any(r.target == report.OLD for r in rows):
        print(f"Old build ({meta.get('baseline_rev', '?')}) against this one, same run:\n")
        print(report.old_new_table(rows))
        print()
    print(_side_by_side_text(paired), end="")
    print(_memory_text(memory))
    print(_counting_text(counted))
    print()
    print(report.targets_table(checks))


def _save(out: Path, results: dict[str, Any], rows: list[report.Row], checks: list[report.Check],
          counted: counting.CountingResult | None, memory: dict[str, dict[str, float]],
          paired: list[side_by_side.Paired]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    meta = results["meta"]
    (out / "latest.md").write_text(
        f"`{meta['command']}` on {meta['date']}: {meta['cpu']}, {meta['cores']} cores, "
        f"Python {meta['python']}, aiohttp {meta['aiohttp']}, extras: "
        f"{', '.join(meta['installed_extras']) or 'none'}, pinned: {meta['pinned']}\n\n"
        f"{report.table(rows)}\n\n{_old_new_text(rows, meta)}{_side_by_side_text(paired)}"
        f"{_memory_text(memory)}\n\n{_counting_text(counted)}\n\n"
        f"{report.targets_table(checks)}\n")


def _side_by_side_text(paired: list[side_by_side.Paired]) -> str:
    if not paired:
        return ""
    return ("Old build and this one side by side (both loaded at once on one core; CPU per request, "
            f"new/old above 1: this build costs more):\n\n{side_by_side.table(paired)}\n\n")


def _old_new_text(rows: list[report.Row], meta: dict[str, Any]) -> str:
    if not any(r.target == report.OLD for r in rows):
        return ""
    return (f"Old build ({meta.get('baseline_rev', '?')}) against this one, same run:\n\n"
            f"{report.old_new_table(rows)}\n\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import uvloop
    except ImportError:
        results = asyncio.run(run(args))
    else:
        results = uvloop.run(run(args))
    errors = sum(r["errors"] for r in results["rows"])
    return 1 if errors else 0
