"""ccr's benchmark: `python -m bench` (see run.py and the README, "Benchmark")."""
