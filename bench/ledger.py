"""`python -m bench.ledger --baseline DIR`: ccr's CPU per request with the usage layer (model
limits, pricing, metrics, the SQLite ledger) against a checkout without it, in the same run.

    git worktree add --detach /tmp/ccr-before <commit before the usage layer>
    python -m bench.ledger --baseline /tmp/ccr-before

Both ccr processes get the same config, with a priced `model_info` for the model so that every
request is looked up, clamped, priced, counted and written, and share core 1 in turn (the
fake upstream and this load generator share core 0). Cases run in interleaved rounds; CPU is
every thread of the process (the ledger's writer thread included), per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from .loadgen import Target, run_case
from .procs import Proc, _spawn, _wait_port, cores, free_port, pin, start_upstream
from .workloads import MODES, build

ROOT = Path(__file__).resolve().parent.parent
MODEL_INFO = {"bench-model": {"max_output_tokens": 8192, "max_input_tokens": 200000,
                              "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                              "cache_read_input_token_cost": 1e-7}}


async def start(root: Path, name: str, workdir: Path, upstream_port: int, core: int | None) -> Proc:
    port = free_port()
    home = workdir / name
    home.mkdir(parents=True)
    config = home / "config.json"
    config.write_text(json.dumps({
        "PORT": port, "HOST": "127.0.0.1", "LOG": False, "LOG_LEVEL": "warn",
        "Providers": [{"name": "bench", "api_base_url": f"http://127.0.0.1:{upstream_port}/v1/chat/completions",
                       "api_key": "sk-bench", "models": ["bench-model"], "model_info": MODEL_INFO}],
        "Router": {"default": "bench,bench-model", "longContext": "bench,bench-model"},
    }))
    env = {**os.environ, "CCR_HOME": str(home), "HOME": str(home),
           "PYTHONPATH": os.pathsep.join((str(root), os.environ.get("PYTHONPATH", "")))}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(proxy, None)
    proc = _spawn(name, [sys.executable, "-m", "ccr", "start", "--foreground", "--config", str(config)],
                  port, home, env)
    pin(proc.pid, core)
    await _wait_port(proc)
    pin(proc.pid, core)
    return proc


async def run(baseline: Path, rounds: int, seconds: float, concurrency: int, cases: list[str]) -> dict:
    core_ids = cores()
    load_core, ccr_core = (core_ids[0], core_ids[1]) if len(core_ids) >= 2 else (None, None)
    pin(os.getpid(), load_core)
    results: dict[str, dict[str, list[float]]] = {c: {"before": [], "after": []} for c in cases}
    with tempfile.TemporaryDirectory(prefix="ccr-bench-ledger-") as tmp:
        workdir = Path(tmp)
        upstream = await start_upstream(workdir, load_core)
        before = await start(baseline, "before", workdir, upstream.port, ccr_core)
        after = await start(ROOT, "after", workdir, upstream.port, ccr_core)
        targets = {"before": Target("before", f"http://127.0.0.1:{before.port}/v1/messages", "anthropic", before),
                   "after": Target("after", f"http://127.0.0.1:{after.port}/v1/messages", "anthropic", after)}
        seq = [0]
        try:
            for round_ in range(rounds):
                order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
                for case in cases:
                    size, mode = case.split("/")
                    workload = build(size, MODES[mode])
                    for name in order:
                        done = await run_case(targets[name], workload, concurrency, max_requests=100_000,
                                              max_seconds=seconds, seq=seq)
                        if done.errors:
                            raise SystemExit(f"{name} {case}: {done.errors[:3]}")
                        assert done.cpu is not None
                        results[case][name].append(done.cpu / len(done.samples) * 1000)
        finally:
            for proc in (after, before, upstream):
                proc.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout without the usage layer")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--cases", default="small/json,claude-code/json,claude-code/stream")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.baseline.resolve(), args.rounds, args.seconds, args.concurrency,
                              args.cases.split(",")))
    print(f"CPU ms per request (median of {args.rounds} interleaved rounds, concurrency {args.concurrency})")
    print(f"{'case':<22} {'before':>8} {'after':>8} {'change':>8}   rounds before / after")
    for case, runs in results.items():
        b, a = statistics.median(runs["before"]), statistics.median(runs["after"])
        spread = " ".join(f"{x:.2f}" for x in runs["before"]) + " / " + " ".join(f"{x:.2f}" for x in runs["after"])
        print(f"{case:<22} {b:>8.3f} {a:>8.3f} {(a - b) / b * 100:>+7.1f}%   {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
