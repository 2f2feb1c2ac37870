"""`ccr code [args…]` runs Claude Code through ccr; `ccr activate` (`ccr env`) prints the variables.

The variables are claude-code-router's (`createEnvVariables`), in its order:

    ANTHROPIC_AUTH_TOKEN=<APIKEY or "test">   ANTHROPIC_BASE_URL=http://127.0.0.1:<PORT>
    NO_PROXY=127.0.0.1   DISABLE_TELEMETRY=true   DISABLE_COST_WARNINGS=true
    API_TIMEOUT_MS=<API_TIMEOUT_MS>            unset CLAUDE_CODE_USE_BEDROCK

plus ANTHROPIC_SMALL_FAST_MODEL when the config has it, and `unset ANTHROPIC_API_KEY`: Claude Code
sends that one as x-api-key, which ccr would check before the bearer token.

Unlike claude-code-router, `ccr code` passes every argument through unchanged (the positional
prompt too, issues #402/#892), replaces itself with Claude Code (so the terminal, signals and the
exit status are Claude Code's own), and never stops the service afterwards (#758): a service it
started keeps running for the next `ccr code` until `ccr stop`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from ccr.cli import daemon
from ccr.config import Config

from .common import CLIError, config_file, ensure_service, home, read_config, url_of

__all__ = ["register", "run", "claude_env", "INSTALL_HINT"]

INSTALL_HINT = "install it with `npm install -g @anthropic-ai/claude-code`, or set CLAUDE_PATH"
UNSET = ("CLAUDE_CODE_USE_BEDROCK", "ANTHROPIC_API_KEY")
NON_INTERACTIVE = {"CI": "true", "FORCE_COLOR": "0", "NODE_NO_READLINE": "1", "TERM": "dumb"}


def register(commands: Any) -> None:
    code = commands.add_parser(
        "code", help="run Claude Code through ccr (starts the service if needed)",
        description="Start the service if it is not running, then run Claude Code with its environment "
                    "pointing at ccr. Every argument after `code` goes to Claude Code unchanged "
                    "(`ccr code -- --help` shows Claude Code's own help). The exit status is Claude Code's.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='examples:\n  ccr code\n  ccr code -p "explain this repo" --output-format json\n\n'
               'as root, Claude Code refuses --dangerously-skip-permissions: set IS_SANDBOX=1 in a\n'
               'container or sandbox, or allow tools one by one with --allowedTools "Read,Edit,Bash"')
    code.add_argument("args", nargs="*", metavar="ARGS", help="arguments for Claude Code")
    code.set_defaults(func=lambda args: run(args.args))

    for name in ("activate", "env"):
        activate = commands.add_parser(
            name, help="print the variables for Claude Code as shell export lines"
            + (" (same as activate)" if name == "env" else ""),
            description='Print export lines that point Claude Code (or any Anthropic client) at ccr; '
                        'use them with: eval "$(ccr activate)"')
        activate.add_argument("--config", help="config file (default: the running service's)")
        activate.set_defaults(func=run_activate)


def claude_env(config: Config, url: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """(variables to set, variables to unset) for a Claude Code that talks to ccr at `url`."""
    values = {
        "ANTHROPIC_AUTH_TOKEN": config.apikey or "test",
        "ANTHROPIC_BASE_URL": url,
        "NO_PROXY": _no_proxy(url),
        "DISABLE_TELEMETRY": "true",
        "DISABLE_COST_WARNINGS": "true",
        "API_TIMEOUT_MS": str(config.api_timeout_ms),
    }
    small = config.data.get("ANTHROPIC_SMALL_FAST_MODEL")
    if isinstance(small, str) and small:
        values["ANTHROPIC_SMALL_FAST_MODEL"] = small
    return values, UNSET


def _no_proxy(url: str) -> str:
    host = re.sub(r"^https?://\[?([^\]/]+?)\]?(:\d+)?/?$", r"\1", url)
    return "127.0.0.1" if host == "127.0.0.1" else f"127.0.0.1,{host}"


def run(args: list[str]) -> int:
    """Start the service if needed, then become Claude Code (this process is replaced)."""
    if args[:1] == ["--"]:
        args = args[1:]
    config = read_config(config_file(None, daemon.probe(home())))
    command = claude_command(config)  # before starting anything: it may not be installed
    found = ensure_service()
    values, unset = claude_env(config, url_of(found, config))
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(values)
    skip_onboarding(env)
    if config.non_interactive_mode:  # CI and scripts: no prompts, no colour, stdin closed
        env.update(NON_INTERACTIVE)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(command[0], [*command, *args], env)
    except OSError as exc:
        raise CLIError(f"cannot run Claude Code ({command[0]}): {exc.strerror}; {INSTALL_HINT}") from None
    return 0  # not reached


def skip_onboarding(env: dict[str, str]) -> None:
    """Write Claude Code's `.claude.json` when there is none, marked as onboarded.

    claude-code-router does this at start-up, so that a first `ccr code` does not open Claude
    Code's login and setup screens (there is nothing to log in to: ccr holds the keys). An
    existing file is never touched.
    """
    folder = env.get("CLAUDE_CONFIG_DIR") or env.get("HOME") or str(Path.home())
    path = Path(folder).expanduser() / ".claude.json"
    if path.exists():
        return
    state = {"numStartups": 1, "autoUpdaterStatus": "enabled", "userID": secrets.token_hex(32),
             "hasCompletedOnboarding": True, "lastOnboardingVersion": "1.0.17", "projects": {}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as out:  # "x": a concurrent run may have written it
            json.dump(state, out, indent=2)
    except FileExistsError:
        pass
    except OSError as exc:
        print(f"ccr: could not write {path} ({exc.strerror}); Claude Code may ask to log in",
              file=sys.stderr)


def claude_command(config: Config) -> list[str]:
    """CLAUDE_PATH in the config, then $CLAUDE_PATH, then `claude` on PATH (claude-code-router's order).

    A CLAUDE_PATH that is not a file may be a command with arguments (`node /opt/claude/cli.js`).
    """
    for source, value in (("CLAUDE_PATH in the config", config.claude_path),
                          ("$CLAUDE_PATH", os.environ.get("CLAUDE_PATH"))):
        if not value:
            continue
        path = Path(value).expanduser()
        if path.is_file():
            if not os.access(path, os.X_OK):
                raise CLIError(f"{source}: {value} is not executable")
            return [str(path)]
        words = shlex.split(value)
        found = shutil.which(words[0]) if words else None
        if found is None:
            raise CLIError(f"{source}: {value!r} is not an executable file; {INSTALL_HINT}")
        return [found, *words[1:]]
    found = shutil.which("claude")
    if found is None:
        raise CLIError(f"Claude Code (`claude`) is not on PATH; {INSTALL_HINT}")
    return [found]


def run_activate(args: argparse.Namespace) -> int:
    found = daemon.probe(home())
    config = read_config(config_file(args.config, found))
    values, unset = claude_env(config, url_of(found, config))
    for key, value in values.items():
        print(f"export {key}={_quote(value)}")
    for key in unset:
        print(f"unset {key}")
    return 0


def _quote(value: str) -> str:
    """claude-code-router's `"value"` where that is safe for a shell, else single quotes."""
    if not re.search(r'["$`\\!]', value):
        return f'"{value}"'
    return shlex.quote(value)
