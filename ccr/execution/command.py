"""Turn a validated run into the CLI invocation: argument list, clean environment, stdin.

    claude -p "<prompt>" --output-format json --permission-mode acceptEdits [--model M] ...
    env: HOME=CLAUDE_CONFIG_DIR=$CCR_HOME/claude-home, ANTHROPIC_BASE_URL=<this ccr>,
         ANTHROPIC_API_KEY=<the task's model-only token>, ANTHROPIC_CUSTOM_HEADERS="x-ccr-task: <id>",
         CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, CLAUDE_CODE_MAX_RETRIES, API_TIMEOUT_MS, ...

Nothing of ccr's own environment leaks in except PATH and the locale. A prompt that is long
(Linux refuses a single argument over 128 KiB), starts with '-', or comes with a context file
travels on stdin, which the CLI appends to the prompt argument.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ccr.config.claude_code import ExecSettings
from ccr.proxy.records import TASK_HEADER, TaskSettings, task_header

from .options import RunOptions

__all__ = ["Invocation", "build_invocation", "ARGV_PROMPT_LIMIT"]

ARGV_PROMPT_LIMIT = 100_000  # bytes; MAX_ARG_STRLEN is 128 KiB
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
_SHOWN_ENV = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
              "CLAUDE_CODE_MAX_RETRIES", "API_TIMEOUT_MS", "IS_SANDBOX")
_MARKDOWN = "Format your final answer as Markdown."


@dataclass(frozen=True, slots=True)
class Invocation:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    stdin: bytes | None
    stream_json: bool
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def display(self) -> str:
        """The command for humans and the API: prompt shortened, secrets masked."""
        parts = [f"{k}={self.env[k]}" for k in _SHOWN_ENV if k in self.env]
        argv = [os.path.basename(self.argv[0]), *self.argv[1:]]  # no install paths in answers
        parts.append(shlex.join(a if len(a) <= 200 else a[:200] + "…" for a in argv))
        if self.stdin is not None:
            parts.append(f"< ({len(self.stdin)} bytes on stdin)")
        text = " ".join(parts)
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def build_invocation(claude: str, prompt: str, options: RunOptions, settings: ExecSettings, *,
                     base_url: str, token: str, task_id: str, stream_json: bool,
                     context: bytes | None = None) -> Invocation:
    argv = [claude, "-p"]
    on_stdin = (context is not None or len(prompt.encode()) > ARGV_PROMPT_LIMIT
                or prompt.lstrip().startswith("-"))
    stdin: bytes | None = None
    if on_stdin:
        stdin = prompt.encode() + (b"\n\n" + context if context is not None else b"")
    else:
        argv.append(prompt)
    argv += ["--output-format", "stream-json", "--verbose"] if stream_json else ["--output-format", "json"]
    if options.model:
        argv += ["--model", options.model]
    argv += ["--permission-mode", settings.permission_mode]
    if settings.allowed_tools:
        argv += ["--allowedTools", ",".join(settings.allowed_tools)]
    if settings.disallowed_tools:
        argv += ["--disallowedTools", ",".join(settings.disallowed_tools)]
    if options.project_dir is not None:
        argv += ["--add-dir", str(options.project_dir)]
    if options.format == "markdown":
        argv += ["--append-system-prompt", _MARKDOWN]

    env = {k: os.environ[k] for k in _KEPT_ENV if os.environ.get(k)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(settings.env)
    config_dir = str(settings.config_dir)
    timeout_ms = int(min(settings.api_timeout_ms, max(1000.0, options.timeout * 1000)))
    env.update({
        "HOME": config_dir,
        "CLAUDE_CONFIG_DIR": config_dir,
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": token,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_MAX_RETRIES": str(settings.cli_max_retries),
        "API_TIMEOUT_MS": str(timeout_ms),
    })
    if settings.through_ccr:
        route = options.model if options.model and "," in options.model else None
        task = task_header(task_id, TaskSettings(options.temperature, route))
        env["ANTHROPIC_CUSTOM_HEADERS"] = f"{TASK_HEADER}: {task}"
    if options.max_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(options.max_tokens)
    if settings.permission_mode == "bypassPermissions" and settings.is_sandbox:
        env["IS_SANDBOX"] = "1"
    return Invocation(argv, env, options.cwd, stdin, stream_json, (token,))
