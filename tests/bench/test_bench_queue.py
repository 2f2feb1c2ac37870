"""The queue benchmark runs end to end on both backends (no timing asserted: it reports)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_queue_benchmark_runs_on_both_backends(postgres_server: str) -> None:  # PostgreSQL installed
    done = subprocess.run([sys.executable, "-m", "bench.queue", "--tasks", "6", "--workers", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| backend | workers | tasks | tasks_per_s")
    assert lines[1].startswith("| sqlite | 0 | 6 |") and lines[2].startswith("| postgres | 1 | 6 |")
