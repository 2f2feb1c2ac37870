"""Read what the CLI printed into the seed's result object, and decide if a retry can help.

    {"status": "success", "output": "def fib(n): ...", "error": "", "return_code": 0,
     "execution_time": 2.3, "command": "ANTHROPIC_API_KEY=*** claude -p ...", "success": true,
     "session_id": "…", "cost": 0.0004, "usage": {...}, "num_turns": 1, "attempts": 1}

Success means exit code 0 *and* `is_error: false`: API failures arrive as `subtype: "success"`
with `is_error: true` and exit code 1, the message in `result`.
"""

from __future__ import annotations

import json
from typing import Any

from ccr.jsonlib import Json

from .process import ProcessOutcome

__all__ = ["build_result", "retryable", "result_line"]

_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_RETRY_TEXTS = ("Unable to connect", "Request timed out", "Overloaded", "overloaded",
                "Connection error", "socket hang up", "ECONNRESET")


def result_line(lines: list[str]) -> Json | None:
    """The CLI's `{"type": "result", ...}` object: the json output, or the last stream-json line."""
    for line in reversed(lines):
        line = line.strip()
        if not line.startswith(("{", "[")):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, list):  # json with --verbose: an array of messages
            data = next((m for m in reversed(data) if isinstance(m, dict) and m.get("type") == "result"), None)
        if isinstance(data, dict) and data.get("type") == "result":
            return data
    return None


def _messages(lines: list[str]) -> list[Any]:
    out = []
    for line in lines:
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"type": "text", "text": line})
    return out


def _error_text(proc: ProcessOutcome, cli: Json | None, timeout: float) -> str:
    if proc.cancelled:
        return "cancelled"
    if proc.timed_out:
        return f"timed out after {timeout:g} s; the CLI and its children were stopped"
    if cli is not None:
        if not cli.get("is_error") and proc.return_code == 0:
            return ""
        errors = cli.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e) for e in errors)
        return str(cli.get("result") or cli.get("subtype") or "the CLI reported an error")
    if proc.return_code == 0:
        return ""
    stderr = proc.stderr.strip()
    return stderr[-2000:] if stderr else f"the CLI exited with code {proc.return_code} and printed no result"


def build_result(proc: ProcessOutcome, *, command: str, elapsed: float, fmt: str, timeout: float,
                 attempts: int) -> Json:
    cli = result_line(proc.lines)
    error = _error_text(proc, cli, timeout)
    success = not error and proc.return_code == 0
    status = ("cancelled" if proc.cancelled else "timeout" if proc.timed_out
              else "success" if success else "error")
    output = ""
    if cli is not None and isinstance(cli.get("result"), str):
        output = cli["result"]
    elif cli is None and success:
        output = "\n".join(proc.lines).strip()
    result: Json = {
        "status": status, "output": output if success else "",
        "error": error, "return_code": proc.return_code,
        "execution_time": round(elapsed, 3), "command": command, "success": success,
        "attempts": attempts,
    }
    if cli is not None:
        for ours, theirs in (("session_id", "session_id"), ("cost", "total_cost_usd"),
                             ("usage", "usage"), ("num_turns", "num_turns"),
                             ("duration_ms", "duration_ms"), ("terminal_reason", "terminal_reason"),
                             ("api_error_status", "api_error_status"),
                             ("permission_denials", "permission_denials"), ("model_usage", "modelUsage")):
            if cli.get(theirs) is not None:
                result[ours] = cli[theirs]
        if fmt == "json":
            result["json"] = cli
    if fmt == "stream-json":
        result["messages"] = _messages(proc.lines)
    return result


def retryable(proc: ProcessOutcome, result: Json) -> bool:
    """Failures a new attempt can fix: timeouts, API/connection errors, a crash. Not a bad
    prompt, a bad flag, a refused permission or a cancel."""
    if result["success"] or proc.cancelled:
        return False
    if proc.timed_out:
        return True
    status = result.get("api_error_status")
    if isinstance(status, int):
        return status in _RETRY_STATUSES
    cli = result_line(proc.lines)
    if cli is not None:
        text = str(cli.get("result") or "")
        return text.startswith("API Error") and any(t in text for t in _RETRY_TEXTS)
    return proc.return_code is not None and proc.return_code < 0  # killed by a signal not ours
