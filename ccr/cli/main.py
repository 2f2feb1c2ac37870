"""The `ccr` command: argument parsing, dispatch, and one-line errors.

    ccr start | stop | restart | status [--json]     the background service
    ccr code [args…]                                 Claude Code through ccr
    ccr activate | env                               export lines for a shell
    ccr model [set ROUTE PROVIDER,MODEL]             routes
    ccr ui                                           the web UI
    ccr worker | db upgrade|status                   past one machine (PostgreSQL)

The commands live in ccr/cli/commands/ (one module per concern). The CLI starts the server or talks
to it over HTTP; it never reaches into a running server's state.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from ccr import __version__
from ccr.cli.commands.workflow import add_workflow_command
from ccr.errors import ConfigError

from .commands import code, db, model, service, ui, usage, worker
from .commands.common import CLIError
from .daemon import DaemonError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line on stderr (argparse prints the whole usage otherwise)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ccr", description="Route Claude Code and any Anthropic-API client to any LLM provider.",
                     epilog="`ccr COMMAND --help` describes each command.")
    parser.add_argument("-v", "--version", action="version", version=f"ccr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    helper = commands.add_parser("help", help="show this help, or a command's: ccr help COMMAND")
    helper.add_argument("topic", nargs="?", help=argparse.SUPPRESS)
    helper.set_defaults(func=lambda args: _help(parser, args.topic))

    # Subcommands: each `register(commands)` adds its parsers with `func(args) -> int` (exit status).
    # Another subsystem adds its commands with one line here.
    service.register(commands)
    code.register(commands)
    model.register(commands)
    ui.register(commands)
    worker.register(commands)    # ccr worker: tasks from the shared queue (DATABASE_URL)
    db.register(commands)        # ccr db upgrade | status
    usage.register(commands)
    add_workflow_command(commands)  # ccr workflow run FILE.yaml (ccr/cli/commands/workflow.py)
    return parser


def _help(parser: argparse.ArgumentParser, topic: str | None) -> int:
    if topic is None:
        parser.print_help()
        return 0
    return main([topic, "--help"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["code"] and argv[1:] not in (["-h"], ["--help"]):
            return code.run(argv[1:])  # everything after `code` belongs to Claude Code
        parser = _parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return 1
        return int(args.func(args))
    except CLIError as exc:
        return _fail(exc.message, exc.status)
    except (DaemonError, ConfigError) as exc:
        return _fail(str(exc) if isinstance(exc, DaemonError) else exc.message, 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ccr status | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # never a traceback for the user; CCR_DEBUG=1 shows it
        if os.environ.get("CCR_DEBUG"):
            raise
        return _fail(f"unexpected error: {type(exc).__name__}: {exc} (CCR_DEBUG=1 shows the details)", 1)


def _fail(message: str, status: int) -> int:
    print(f"ccr: {message}", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
