"""The benchmark harness runs end to end (`python -m bench --quick`) and checks every response.

No timing is asserted here: speed is what the benchmark reports, not what tests decide.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_end_to_end(tmp_path: Path) -> None:
    """Upstream, the bare converter and ccr as subprocesses, all cases, every response checked,
    ccr's CPU related to the bare converter's, results written."""
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    rows = results["rows"]
    cases = {(r["size"], r["mode"], r["concurrency"]) for r in rows}
    assert cases == {(s, m, c) for s in ("small", "claude-code") for m in ("json", "stream", "paced")
                     for c in (1, 8)}
    for row in rows:
        assert row["requests"] > 0, row
        assert row["errors"] == 0, row
        if row["mode"] != "json":
            assert row["events_per_req"] > 0, row
    ccr_rows = [r for r in rows if r["target"] == "ccr"]
    assert len(ccr_rows) == len(cases) and all(r["cpu_per_req_ms"] is not None for r in ccr_rows)
    bare_rows = [r for r in rows if r["target"] == "bare"]
    assert len(bare_rows) == len(cases) and all(r["cpu_per_req_ms"] is not None for r in bare_rows)
    assert all(r["cpu_req_x_bare"] is not None for r in ccr_rows)
    assert {r["target"] for r in rows} == {"upstream", "bare", "ccr"}
    cpu_targets = [t for t in results["targets"] if t["what"].startswith("CPU per")]
    assert len(cpu_targets) == 5 and all(t["bare"] for t in cpu_targets)
    assert results["meta"]["memory_mb"]["bare"]["peak"] > 0
    assert results["counting"]["conversation_tokens"] >= 100_000
    assert {t["what"] for t in results["targets"]} >= {"errors and wrong bytes",
                                                       "a new turn of a 100k-token conversation"}
    assert "| claude-code | stream | 8 | ccr |" in done.stdout
    assert "| claude-code | stream | 8 | bare |" in done.stdout
    assert "bare converter, same case" in done.stdout
    assert (tmp_path / "latest.md").read_text().startswith("`python -m bench --quick")
