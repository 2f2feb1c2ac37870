"""The `ccr` subcommands, one module per concern.

Each module has `register(commands)`, which adds its parsers to the `ccr` argparse subparsers and
sets `func(args) -> int` (the exit status) on each; `ccr/cli/main.py` calls them in order. Errors are
raised as `CLIError` (or `DaemonError`, `ConfigError`) and printed by `ccr/cli/main.py` as one line.
"""
