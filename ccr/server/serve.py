"""Run the server in this process until SIGTERM or SIGINT (`ccr start --foreground`)."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from ccr import __version__
from ccr.config import (
    Config,
    config_path,
    default_config_text,
    read_raw,
)
from ccr.config.guards import MIN_EXPOSED_KEY, exposure_problems, without_env_values
from ccr.errors import ConfigError
from ccr.logs.setup import LOGGING, Logging
from ccr.proxy.runtime import Runtime, validate_raw

from .app import create_app
from .auth import BIND_HOSTS
from .keys import RUNTIME
from .lifecycle import LIFECYCLE, Lifecycle, publish_service, withdraw_service

__all__ = ["prepare_config", "serve", "make_runner", "tune_garbage_collector", "SHUTDOWN_GRACE",
           "YOUNG_GC_THRESHOLD"]

SHUTDOWN_GRACE = 30.0  # seconds running streams get to finish on stop
YOUNG_GC_THRESHOLD = 10_000  # tracked allocations between young collections (CPython's: 700)
log = structlog.get_logger("ccr.serve")


def prepare_config(explicit: str | None = None) -> tuple[Path, bool]:
    """The config path to use; writes the commented default when there is none yet."""
    path = config_path(explicit)
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_config_text(), encoding="utf-8")
    return path, True


def make_runner(app: web.Application, host: str) -> web.AppRunner:
    """The runner `serve` uses: it records the address for the config checks (ccr.server.auth)
    and closes a connection that sends no complete request head, or idles between requests,
    for IDLE_TIMEOUT_MS (aiohttp's keep-alive timer runs from the connection's start)."""
    app[BIND_HOSTS] = (host,)
    idle = app[RUNTIME].config.access.idle_timeout_ms / 1000
    return web.AppRunner(app, handler_cancellation=True, shutdown_timeout=SHUTDOWN_GRACE,
                         keepalive_timeout=idle)


async def _run(app: web.Application, host: str, port: int, stop: asyncio.Event) -> None:
    runner = make_runner(app, host)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        tune_garbage_collector()
        publish_service(app, host, port)  # first, so the line below means the pid file is there
        print(f"ccr {__version__} listening on http://{_url_host(host)}:{port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        withdraw_service(app)


def tune_garbage_collector() -> None:
    """Fit the cyclic garbage collector to a server's life. Measured side by side with the old
    build (bench/side_by_side.py), each step took 4-8 % off a request's CPU at concurrency 64.

    - Start-up's objects are frozen out of its walks: the model catalogue, the config and every
      module, some 50,000 objects that live as long as the process. Under load a full
      collection comes every few hundred requests and walked them all, about 25 ms each time.
      `gc.freeze()` moves them to a generation no collection walks; they are still freed by
      reference counting when dropped. Start-up's own garbage is collected first.
    - Young collections come every YOUNG_GC_THRESHOLD tracked allocations, not every 700: a
      Claude Code request parses into thousands of dicts and lists, and each young collection
      walked every object of the requests in flight. Cyclic garbage waits a little longer for
      its collection (at most that many objects' worth).
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def serve(config_file: str | None = None, host: str | None = None, port: int | None = None, *,
          daemon: bool = False, record: bool = True) -> int:
    path, created = prepare_config(config_file)
    raw: dict[str, Any] = {}
    try:
        raw = read_raw(path)
        runtime = _validated(raw, path, host, port)
    except ConfigError as exc:
        print(f"ccr: {without_env_values(exc.message, raw)}", file=sys.stderr)
        print("ccr: not started; fix the config and run the command again", file=sys.stderr)
        return 2
    config = runtime.config
    # files in $CCR_HOME/logs unless LOG is false; a daemon's stderr is daemon.log: no copy there
    logging_ = Logging(stream=sys.stderr, console=not daemon)
    logging_.apply(config)
    if created:
        print(f"ccr: wrote a default config to {path}; add a provider to start routing", flush=True)
    if config.setup_mode:
        print(f"ccr: setup mode: no providers in {path}; /v1/messages will say how to add one", flush=True)
    app = create_app(config, runtime=runtime, config_path=path)
    app[LIFECYCLE] = Lifecycle(daemon=daemon, config_file=str(path.resolve()), record=record)
    app[LOGGING] = logging_
    return _loop(app, config)


def _validated(raw: dict[str, Any], path: Path, host: str | None, port: int | None) -> Runtime:
    """The whole file checked at once (syntax, types, routes, transformers, custom router),
    then the command line's --host/--port applied, with the same no-key-no-exposure rule."""
    runtime = validate_raw(raw, path=path)
    if not (host or port):
        return runtime
    config = replace(runtime.config, host=host or runtime.config.host, port=port or runtime.config.port)
    problems = exposure_problems((config.host,), config.apikey, config.access.admin_key)
    if problems:
        raise ConfigError(f"--host {config.host}: exposing ccr to other machines needs an APIKEY of at "
                          f"least {MIN_EXPOSED_KEY} characters (ADMIN_APIKEY too, if set); set it in "
                          f"{path} or use --host 127.0.0.1", problems)
    return replace(runtime, config=config)


def _event_loop_run(main: Coroutine[Any, Any, None]) -> None:
    """uvloop when installed (the `fast` extra): 10-15% less CPU per streamed request."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _loop(app: web.Application, config: Config) -> int:
    lifecycle = app[LIFECYCLE]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lifecycle.shutdown)
        await _run(app, config.host, config.port, lifecycle.stop)

    try:
        _event_loop_run(main())
    except OSError as exc:
        print(f"ccr: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        app[LOGGING].close()  # flush the log files (before a daemon re-executes itself)
    if lifecycle.relaunch_requested:
        return lifecycle.finish(f"http://{_url_host(config.host)}:{config.port}")
    return 0
