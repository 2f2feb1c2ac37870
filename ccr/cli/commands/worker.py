"""`ccr worker`: run Claude Code tasks from the shared queue on this host (no port, no arguments).

It reads the same config as `ccr start` ($CCR_HOME/config.json, DATABASE_URL or
$CCR_DATABASE_URL) and runs each task's CLI exactly as the API node would, against the router
the config names (its HOST/PORT, or ClaudeCode.base_url). It stops on SIGTERM or Ctrl-C, handing
the tasks it holds back to the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from ccr.errors import CCRError
from ccr.execution.running import TaskRegistry
from ccr.execution.service import ExecutionService
from ccr.logs.setup import Logging

from .common import CLIError, config_file, read_config
from .db import configured_url

__all__ = ["register"]


def register(commands: Any) -> None:
    worker = commands.add_parser(
        "worker", help="run Claude Code tasks from the shared PostgreSQL queue on this host",
        description="Take Claude Code tasks from the shared queue (DATABASE_URL) and run them here, "
                    "until SIGTERM or Ctrl-C. Needs no open port; run one per host.")
    worker.add_argument("--config", help="config file (default: $CCR_CONFIG or $CCR_HOME/config.json)")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="tasks at once on this host (default: ClaudeCode.max_concurrent)")
    worker.set_defaults(func=run_worker)


def run_worker(args: argparse.Namespace) -> int:
    configured_url(args.config)  # a clear message when there is no shared database
    config = read_config(config_file(args.config))
    if args.concurrency is not None and not 1 <= args.concurrency <= 256:
        raise CLIError("--concurrency: expected a number from 1 to 256")
    Logging(stream=sys.stderr, console=True).apply(config)
    try:
        return asyncio.run(_run(config, args.concurrency))
    except CCRError as exc:
        raise CLIError(exc.message) from None


async def _run(config: Any, concurrency: int | None) -> int:
    service = ExecutionService(config, TaskRegistry(), run_tasks=True)
    service.concurrency = concurrency
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    worker = service.worker
    print(f"ccr worker {worker.name if worker else ''} taking tasks (concurrency "
          f"{worker.concurrency if worker else '?'}); stop with Ctrl-C", flush=True)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await service.stop()
    return 0
