"""A run request's options, validated: each one is something the CLI (or ccr) really honours.

    {"prompt": "...", "options": {"format": "json", "model": "openai,gpt-4.1", "max_tokens": 1000,
                                   "temperature": 0.2, "timeout": 120, "max_retries": 1,
                                   "working_dir": "app", "context_file": "notes.md"}}

Anything else is refused with a 400 naming the option, rather than silently dropped. Paths
(working_dir, project_dir, context_file, output_file) must resolve inside the configured
allowed roots; relative ones start at the workspace (directories) or the working directory
(files).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccr.config.claude_code import ExecSettings
from ccr.errors import RequestError

__all__ = ["RunOptions", "RunRequest", "FORMATS", "parse_run", "parse_options", "parse_prompt", "inside"]

FORMATS = ("text", "json", "stream-json", "markdown")
KNOWN = ("format", "model", "max_tokens", "temperature", "timeout", "max_retries",
         "output_file", "context_file", "project_dir", "working_dir")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/,@\[\] -]{0,199}$")


@dataclass(frozen=True, slots=True)
class RunOptions:
    format: str = "text"
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float = 60.0
    max_retries: int = 3
    output_file: Path | None = None
    context_file: Path | None = None
    project_dir: Path | None = None
    cwd: Path = Path()

    def public(self) -> dict[str, Any]:
        """As stored with a task (paths as strings)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in (
            ("format", self.format), ("model", self.model), ("max_tokens", self.max_tokens),
            ("temperature", self.temperature), ("timeout", self.timeout),
            ("max_retries", self.max_retries), ("output_file", self.output_file),
            ("context_file", self.context_file), ("project_dir", self.project_dir),
            ("working_dir", self.cwd)) if v is not None}


@dataclass(frozen=True, slots=True)
class RunRequest:
    prompt: str
    options: RunOptions
    raw_options: dict[str, Any]  # as the client sent them, kept with the task for a re-run


def inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _real(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return Path(os.path.realpath(path if path.is_absolute() else base / path))


class _Reader:
    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.raw, self.where = raw, where

    def fail(self, key: str, message: str) -> RequestError:
        return RequestError(f"{self.where}.{key}: {message}")

    def number(self, key: str, low: float, high: float, whole: bool = False) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number, got {value!r}")
        if whole and int(value) != value:
            raise self.fail(key, f"expected a whole number, got {value!r}")
        if not low <= value <= high:
            raise self.fail(key, f"{value!r} is out of range {low:g}..{high:g}")
        return value

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def path(self, key: str, base: Path, roots: tuple[Path, ...]) -> Path | None:
        value = self.text(key)
        if value is None:
            return None
        if "\x00" in value:
            raise self.fail(key, "must not contain NUL characters")
        path = _real(value, base)
        if not inside(path, roots):
            raise self.fail(key, f"{value!r} is outside the allowed roots "
                                 f"({', '.join(str(r) for r in roots)}); set ClaudeCode.allowed_roots to allow it")
        return path


def parse_options(raw: Any, settings: ExecSettings, where: str = "options") -> RunOptions:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RequestError(f"{where}: expected an object, got {type(raw).__name__}")
    for key in raw:
        if key not in KNOWN:
            hint = (" (permission mode and tools come from the ClaudeCode config, not the request)"
                    if key in ("permission_mode", "allowed_tools", "dangerously_skip_permissions") else "")
            raise RequestError(f"{where}.{key}: unknown option; the Claude Code CLI cannot honour it{hint}. "
                               f"Known options: {', '.join(KNOWN)}")
    r = _Reader(raw, where)
    fmt = r.text("format") or "text"
    if fmt not in FORMATS:
        raise r.fail("format", f"{fmt!r} is not an output format the CLI has; use one of {', '.join(FORMATS)}")
    model = r.text("model")
    if model is not None and not _MODEL.match(model):
        raise r.fail("model", f"{model!r} is not a model name (letters, digits and . _ : / , @ - only, "
                              "not starting with '-')")
    temperature = r.number("temperature", 0.0, 1.0)
    if temperature is not None and not settings.through_ccr:
        raise r.fail("temperature", "the CLI has no temperature setting; ccr applies it only when the CLI "
                                    "runs through ccr (ClaudeCode.base_url is set to another server)")
    max_tokens = r.number("max_tokens", 1, 1_000_000, whole=True)
    timeout = r.number("timeout", 1, settings.max_timeout)
    retries = r.number("max_retries", 0, 10, whole=True)
    roots = settings.allowed_roots
    working = r.path("working_dir", settings.workspace, roots)
    project = r.path("project_dir", settings.workspace, roots)
    cwd = working or project or settings.workspace
    for key, directory in (("working_dir", working), ("project_dir", project)):
        if directory is not None and not directory.is_dir():
            raise r.fail(key, f"{raw[key]!r} is not an existing directory")
    context = r.path("context_file", cwd, roots)
    if context is not None:
        if not context.is_file():
            raise r.fail("context_file", f"{raw['context_file']!r} is not an existing file")
        if context.stat().st_size > settings.max_context_bytes:
            raise r.fail("context_file", f"{raw['context_file']!r} is larger than "
                                         f"ClaudeCode.max_context_bytes ({settings.max_context_bytes})")
    output = r.path("output_file", cwd, roots)
    if output is not None and (output.is_dir() or not output.parent.is_dir()):
        raise r.fail("output_file", f"{raw['output_file']!r} must name a file in an existing directory")
    return RunOptions(
        format=fmt, model=model,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        temperature=float(temperature) if temperature is not None else None,
        timeout=float(timeout) if timeout is not None else settings.default_timeout,
        max_retries=int(retries) if retries is not None else settings.max_retries,
        output_file=output, context_file=context,
        project_dir=project if project is not None and project != cwd else None, cwd=cwd,
    )


def _passable(value: Any, where: str) -> None:
    """What a process cannot be given (argv, environment) or the task store cannot keep:
    a NUL byte, or a lone surrogate (JSON's "\\udce9", which is not a character)."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        if not isinstance(item, str):
            continue
        if "\x00" in item:
            raise RequestError(f"{where}: contains a NUL byte (\\u0000), which a command line cannot carry")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(item[exc.start])
            raise RequestError(f"{where}: contains a lone surrogate (\\u{code:04x}) at position "
                               f"{exc.start}, which is not a character") from None


def parse_prompt(value: Any, settings: ExecSettings, where: str = "prompt") -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{where}: missing; send the prompt as a non-empty string")
    _passable(value, where)
    if len(value.encode()) > settings.max_context_bytes:
        raise RequestError(f"{where}: longer than ClaudeCode.max_context_bytes ({settings.max_context_bytes} bytes)")
    return value


def parse_run(body: Any, settings: ExecSettings, where: str = "") -> RunRequest:
    """`{"prompt": ..., "options": {...}}` -> RunRequest, or a RequestError naming the field."""
    prefix = f"{where}." if where else ""
    if not isinstance(body, dict):
        raise RequestError(f"{where or 'body'}: expected a JSON object with prompt and options")
    prompt = parse_prompt(body.get("prompt"), settings, f"{prefix}prompt")
    raw_options = body.get("options") or {}
    if isinstance(raw_options, dict):
        for key, value in raw_options.items():
            _passable(value, f"{prefix}options.{key}")
    options = parse_options(raw_options, settings, f"{prefix}options")
    return RunRequest(prompt, options, dict(raw_options))
