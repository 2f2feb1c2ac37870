"""The old-versus-new mode (`python -m bench --baseline-tree PATH`): another checkout's ccr runs
beside this one in the same rounds, and the report compares the two case by case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import report, side_by_side
from bench.loadgen import CaseRun, Sample

ROOT = Path(__file__).resolve().parents[2]

# CPU seconds for 10 requests of each case; streams carry 100 events a request
_CPU = {"bare": {"json": 0.005, "stream": 0.025},      # 0.5 ms, 2.5 ms: 20 µs/event
        report.OLD: {"json": 0.010, "stream": 0.070},  # 1.0 ms, 7.0 ms: 60 µs/event
        "ccr": {"json": 0.011, "stream": 0.041}}       # 1.1 ms, 4.1 ms: 30 µs/event
# the part of it on the event loop's thread (ccr's writer thread does the rest)
_LOOP_SHARE = {"bare": 1.0, report.OLD: 1.0, "ccr": 0.9}


def _rows(cpu: dict[str, dict[str, float]]) -> list[report.Row]:
    runs = []
    for target, modes in cpu.items():
        for mode, seconds in modes.items():
            samples = [Sample(0.002, 0.001, 0.001, 100 if mode == "stream" else 0, None) for _ in range(10)]
            runs.append(CaseRun(target, "claude-code", mode, 64, wall=0.5, cpu=seconds,
                                loop_cpu=seconds * _LOOP_SHARE[target], samples=samples))
    return report.aggregate(runs)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("|").split("|")]


def test_the_table_gives_old_new_their_ratio_and_the_bare_figure() -> None:
    lines = report.old_new_table(_rows(_CPU)).splitlines()
    head = _cells(lines[0])
    assert head[3:] == ["cpu/req old ms", "new ms", "old/new", "bare ms", "loop cpu/req old ms", "new ms",
                        "old/new", "cpu/ev old µs", "new µs", "old/new", "bare µs"]
    json_row, stream_row = (_cells(line) for line in lines[2:])
    assert json_row == ["claude-code", "json", "64", "1.00", "1.10", "0.91", "0.50", "1.00", "0.99", "1.01",
                        "-", "-", "-", "-"]
    assert stream_row == ["claude-code", "stream", "64", "7.00", "4.10", "1.71", "2.50", "7.00", "3.69", "1.90",
                          "60.00", "30.00", "2.00", "20.00"]


def test_targets_against_the_old_build() -> None:
    checks = {c.what: c for c in report.old_new_targets(_rows(_CPU))}
    per_request = checks["CPU per request against the old build, any case"]
    assert per_request.ok is False  # the JSON case got 10 % dearer
    assert per_request.measured == "worst +10.0 % (claude-code json c=64: 1.00 -> 1.10 ms)"
    on_loop = checks["Event-loop CPU per request against the old build, any case"]
    assert on_loop.ok is True and on_loop.measured == "worst -1.0 % (claude-code json c=64: 1.00 -> 0.99 ms)"
    per_event = checks[report.PER_EVENT]
    assert per_event.ok is False and per_event.measured.startswith("worst 30.00 µs")
    assert "old build 60.00 µs" in per_event.measured and per_event.bare == "20.00 µs (ccr 1.50×)"
    per_stream = checks[report.PER_STREAM]
    assert per_stream.ok is False and per_stream.measured == "4.10 ms (claude-code stream c=64)"
    assert per_stream.bare == "2.50 ms (ccr 1.64×)"
    cheaper = {**_CPU, "ccr": {"json": 0.0104, "stream": 0.0153}}  # +4 %; 4.9 µs per event
    checks = {c.what: c for c in report.old_new_targets(_rows(cheaper))}
    assert checks["CPU per request against the old build, any case"].ok is True
    assert checks[report.PER_EVENT].ok is True
    assert checks[report.PER_STREAM].ok is True  # 1.53 ms


def test_without_a_baseline_nothing_is_compared() -> None:
    rows = _rows({"bare": _CPU["bare"], "ccr": _CPU["ccr"]})
    assert report.old_new_table(rows).count("\n") == 1  # the head only
    assert all(c.ok is None for c in report.old_new_targets(rows)[:1])


def test_tree_boot_imports_all_of_ccr_from_the_other_checkout(tmp_path: Path) -> None:
    """ccr, ccr.transformers and ccr.ui (mapped to top-level folders) come from the tree."""
    for folder in ("ccr", "transformers", "ui"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "transformers" / "base.py").write_text("")
    (tmp_path / "ccr" / "__main__.py").write_text(
        "import sys, ccr.transformers.base, ccr.ui\n"
        "print(sys.argv[1:], ccr.__file__, ccr.transformers.base.__file__, ccr.ui.__file__)\n")
    done = subprocess.run([sys.executable, "-m", "bench.tree_boot", str(tmp_path), "start", "--x"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("['start', '--x']")
    assert done.stdout.split("] ", 1)[1].split() == [str(tmp_path / "ccr" / "__init__.py"),
                                                     str(tmp_path / "transformers" / "base.py"),
                                                     str(tmp_path / "ui" / "__init__.py")]


def test_quick_run_with_a_baseline_tree(tmp_path: Path) -> None:
    """End to end, this checkout as its own baseline: both builds answer every case correctly."""
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--baseline-tree", str(ROOT),
                           "--sizes", "small", "--modes", "json,stream", "--concurrency", "1",
                           "--no-counting", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert {r["target"] for r in results["rows"]} == {"upstream", "bare", report.OLD, "ccr"}
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in results["rows"])
    assert results["meta"]["baseline_tree"] == str(ROOT)
    assert "| small | stream | 1 |" in done.stdout.split("against this one, same run:")[1]
    assert {"CPU per request against the old build, any case",
            report.PER_EVENT, report.PER_STREAM} <= {t["what"] for t in results["targets"]}
    assert "against this one, same run:" in (tmp_path / "latest.md").read_text()
    paired = {(p["mode"], p["concurrency"]): p for p in results["side_by_side"]}
    assert set(paired) == {("json", 1), ("stream", 1)}
    assert all(len(p["old_ms"]) == len(p["new_ms"]) == 2 and all(p["old_ms"]) for p in paired.values())
    assert "side by side" in (tmp_path / "latest.md").read_text()
    assert {"CPU per request against the old build, side by side, any case",
            "Event-loop CPU per request against the old build, side by side, any case"} <= {
        t["what"] for t in results["targets"]}
    assert all(len(p["new_loop_ms"]) == 2 for p in paired.values())


def test_side_by_side_reports_the_median_of_the_rounds_ratios() -> None:
    steady = side_by_side.Paired("claude-code", "json", 64, old_ms=[1.0, 1.4, 1.2], new_ms=[1.04, 1.47, 1.2],
                                 old_loop_ms=[1.0, 1.0, 1.0], new_loop_ms=[1.01, 1.02, 1.03])
    drifting = side_by_side.Paired("small", "json", 1, old_ms=[0.5, 0.8, 0.6], new_ms=[0.6, 0.8, 0.63],
                                   old_loop_ms=[0.5, 0.5, 0.5], new_loop_ms=[0.5, 0.5, 0.5])
    assert [round(r, 3) for r in drifting.ratios] == [1.2, 1.0, 1.05]
    assert drifting.ratio == 1.05  # the median: one round's spike does not decide
    lines = side_by_side.table([steady, drifting]).splitlines()
    assert _cells(lines[2]) == ["claude-code", "json", "64", "1.20", "1.20", "1.040", "1.040 1.050 1.000",
                                "1.00", "1.02", "1.020"]
    whole, loop = side_by_side.checks([steady, drifting])
    assert whole.ok is True and whole.measured.startswith("worst +5.0 % (small json c=1")
    assert loop.ok is True and loop.measured.startswith("worst +2.0 % (claude-code json c=64")
    dearer = side_by_side.Paired("small", "json", 1, [1.0, 1.0], [1.1, 1.07], [1.0, 1.0], [1.0, 1.0])
    whole, loop = side_by_side.checks([steady, dearer])
    assert whole.ok is False and "+8.5 %" in whole.measured and loop.ok is True
    assert all(c.ok is None for c in side_by_side.checks([]))
