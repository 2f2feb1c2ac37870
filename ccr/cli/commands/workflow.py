"""`ccr workflow run FILE.yaml`: run a workflow file on the running ccr, step by step.

    $ ccr workflow run review.yaml
    [1/2] code_generation  ok  2.1 s
        def quick_sort(items): ...
    [2/2] code_analysis    ok  1.8 s
        O(n log n) on average ...
    workflow: 2 of 2 steps succeeded

The file goes to `POST /api/claude-code/workflow?stream=1` as YAML; the service validates it
(a mistake is reported with the step and the field) and sends each step's result as a
server-sent event the moment the step finishes. Exit status: 0 when every step succeeded,
1 when one failed or the service could not be reached, 2 for a bad file.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import yaml

__all__ = ["add_workflow_command", "run_workflow_file"]

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
_READ_TIMEOUT = 120.0  # the service pings every 15 s while a step runs


def add_workflow_command(subparsers: Any) -> None:
    workflow = subparsers.add_parser(
        "workflow", help="run Claude Code workflows (YAML) on the running service",
        description="Multi-step Claude Code jobs kept in files: ccr workflow run FILE.yaml")
    actions = workflow.add_subparsers(dest="workflow_action", metavar="ACTION")
    run = actions.add_parser("run", help="run a workflow file, printing each step's result as it finishes",
                             description="Send FILE (YAML or JSON: a `workflow:` list of steps with name, "
                                         "prompt, options, critical, use_context) to the running ccr.")
    run.add_argument("file", help="the workflow file")
    run.add_argument("--config", help="config file (default: the running service's)")
    run.add_argument("--url", help="ccr's address (default: the running service's, or HOST:PORT of the config)")
    run.add_argument("--json", action="store_true", help="print the final answer as JSON instead")
    run.set_defaults(func=_run_command)
    workflow.set_defaults(func=lambda args: (workflow.print_help(sys.stderr), 2)[1])


def _service(args: argparse.Namespace) -> tuple[str, str | None]:
    from ccr.cli import daemon
    from ccr.cli.commands.common import (
        admin_credential,
        config_file,
        home,
        read_config,
        url_of,
    )

    found = daemon.probe(home())
    config = read_config(config_file(args.config, found))
    url = args.url.rstrip("/") if args.url else url_of(found, config)
    return url, admin_credential(url, config)


def _run_command(args: argparse.Namespace) -> int:
    url, apikey = _service(args)
    return run_workflow_file(Path(args.file), url, apikey, as_json=args.json)


def _events(lines: Iterator[bytes]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream."""
    event, data = "message", list[str]()
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


def _print_step(step: dict[str, Any], out: TextIO) -> None:
    result = step.get("result") or {}
    total = step.get("total_steps", "?")
    state = "ok" if step.get("success") else result.get("status", "failed")
    seconds = result.get("execution_time")
    timing = f"  {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    print(f"[{step.get('step_number')}/{total}] {step.get('step_name')}  {state}{timing}", file=out)
    text = result.get("output") if step.get("success") else f"error: {result.get('error')}"
    for line in str(text or "").strip().splitlines():
        print(f"    {line}", file=out)
    out.flush()


def _fail(message: str, status: int) -> int:
    print(f"ccr: {message}", file=sys.stderr, flush=True)
    return status


def run_workflow_file(path: Path, url: str, apikey: str | None, *, as_json: bool = False,
                      out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return _fail(f"{path}: cannot read the workflow file: {exc.strerror}", 2)
    try:
        yaml.safe_load(text)  # syntax first, with the file's name; the service checks the fields
    except yaml.YAMLError as exc:
        return _fail(f"{path}: not valid YAML: {exc}", 2)
    headers = {"Content-Type": "application/yaml", "Accept": "text/event-stream"}
    if apikey:
        headers["x-api-key"] = apikey
    request = urllib.request.Request(f"{url}/api/claude-code/workflow?stream=1", data=text.encode(),
                                     method="POST", headers=headers)
    try:
        response = _OPENER.open(request, timeout=_READ_TIMEOUT)
    except urllib.error.HTTPError as exc:
        with exc:
            return _fail(f"{path}: {_message(exc.code, exc.read())}", 2 if exc.code == 400 else 1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return _fail(f"ccr is not reachable at {url} ({reason}); start it with `ccr start`", 1)
    answer: dict[str, Any] | None = None
    with response:
        for event, data in _events(iter(response.readline, b"")):
            payload = json.loads(data)
            if event == "step" and not as_json:
                _print_step(payload, out)
            elif event == "workflow":
                answer = payload
    if answer is None:
        return _fail("the service ended the workflow stream without a result (see the ccr log)", 1)
    if as_json:
        print(json.dumps(answer, indent=2, ensure_ascii=False), file=out)
    else:
        stopped = f"; stopped at critical step {answer['stopped_at']}" if answer.get("stopped_at") else ""
        print(f"workflow: {answer['successful_steps']} of {answer['total_steps']} steps succeeded{stopped}",
              file=out)
    return 0 if answer.get("success") else 1


def _message(status: int, raw: bytes) -> str:
    try:
        body = json.loads(raw)
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}"
