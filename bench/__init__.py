"""ccr's benchmark: `python -m bench` (see run.py and docs/benchmark.md)."""
