"""The `ccr` command."""

from __future__ import annotations

import argparse
import sys

from . import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccr", description="Route Claude Code to any LLM provider.")
    parser.add_argument("-v", "--version", action="version", version=f"ccr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    start = commands.add_parser("start", help="start the router")
    start.add_argument("--foreground", action="store_true", help="run in this process (for systemd, containers, tests)")
    start.add_argument("--config", help="config file (default: $CCR_CONFIG or ~/.claude-code-router/config.json)")
    start.add_argument("--host", help="listen address (overrides HOST)")
    start.add_argument("--port", type=int, help="listen port (overrides PORT)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "start":
        from .serve import serve

        return serve(args.config, args.host, args.port)
    parser.print_help()
    return 1


if __name__ == "__main__":
    sys.exit(main())
