"""Applying the saved config to a running server (`POST /api/restart`).

    result = await apply_saved_config(app)

Re-reads the config file, validates it with the same function as start-up, and swaps the
app's Runtime for a new one. Requests in flight keep the snapshot they started with
(`ccr.server.api.messages` reads `app[RUNTIME]` once per request); new requests get the new one; no
connection is touched. The token counter and the per-session usage carry over, and the HTTP
client stays: timeouts (`API_TIMEOUT_MS`) and `PROXY_URL` are taken from the Runtime's config
on every upstream call. Logging (`LOG`, `LOG_LEVEL`, rotation) is re-applied too.

Only a new `HOST` or `PORT` needs a new listening socket: then nothing is swapped, the
handler answers and asks the process' `Lifecycle` (ccr.lifecycle, set by serve.py) to relaunch:
the server stops gracefully (running streams get the shutdown grace period, on the config they
started with), then a daemon re-executes itself and comes back on the new address, and a
foreground process exits with status 75 (`EXIT_RELAUNCH`) for its supervisor.

An address given on the command line (`--host/--port`) keeps winning as long as the file's
HOST/PORT stay as they were; only a change of the file's own address relaunches.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass, replace

from aiohttp import web

from ccr.config import Config, parse, read_raw
from ccr.config.guards import exposure_problems, without_env_values
from ccr.errors import ConfigError
from ccr.logs.setup import LOGGING
from ccr.proxy.runtime import Runtime, validate_raw

from .api.inspector import INSPECTOR, follow_config
from .auth import bind_hosts
from .keys import RUNTIME, STATE
from .lifecycle import LIFECYCLE

__all__ = ["ReloadResult", "apply_saved_config", "swap_runtime", "hosts_after_apply", "RELOAD_LOCK"]

#: One reload at a time (two restarts racing would each build a Runtime and one would be lost).
RELOAD_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("reload_lock", asyncio.Lock)

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ReloadResult:
    runtime: Runtime
    listening: Address       # where this process listens now
    configured: Address      # the HOST/PORT of the saved file
    relaunch: bool           # the address changed: the process must start over to apply it


def _file_address(config: Config) -> Address:
    """HOST/PORT as the config's file says, before any --host/--port of the command line."""
    try:
        parsed = parse(config.raw, home=config.home, env_must_resolve=False)
    except ConfigError:
        return config.host, config.port
    return parsed.host, parsed.port


def _relaunches(app: web.Application, config: Config) -> bool:
    old = app[RUNTIME].config
    listening, configured = (old.host, old.port), (config.host, config.port)
    return configured != listening and configured != _file_address(old)


def hosts_after_apply(app: web.Application, config: Config) -> tuple[str, ...]:
    """The addresses ccr would listen on with `config` applied: a relaunch binds the config's
    own HOST; otherwise the sockets in use stay (a `--host` keeps winning), so they count too."""
    if _relaunches(app, config) and app.get(LIFECYCLE) is not None:
        return (config.host,)
    return tuple(dict.fromkeys((*bind_hosts(app), config.host)))


def swap_runtime(app: web.Application, runtime: Runtime) -> None:
    """Make `runtime` the one new requests get.

    aiohttp deprecates changing a started app's state because handlers could see a half-made
    change; here the change is one reference assignment on the event loop's thread, which
    is exactly the whole-snapshot swap we want, so its warning does not apply.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Changing state of started or joined application",
                                DeprecationWarning)
        app[RUNTIME] = runtime
    if INSPECTOR in app:  # INSPECTOR switched on or off, its bounds changed
        follow_config(app)


async def apply_saved_config(app: web.Application) -> ReloadResult:
    """Validate the config file and swap it in; raises ConfigError (file untouched, old config kept)."""
    old = app[RUNTIME]
    path = app[STATE].config_path or old.config.path
    if path is None:
        raise ConfigError("this server was started without a config file, so there is nothing to re-read")
    try:
        raw = await asyncio.to_thread(read_raw, path)
    except ConfigError as exc:  # name the file, not the folder it lives in
        message = exc.message.replace(str(path), path.name)
        raise ConfigError(message, [p.replace(str(path), path.name) for p in exc.problems]) from None
    try:
        runtime = validate_raw(raw, path=path, home=old.config.home,
                               counter=old.router.counter, usage=old.router.usage)
        new = runtime.config
        exposed = exposure_problems(hosts_after_apply(app, new), new.apikey, new.access.admin_key)
        if exposed:
            raise ConfigError("exposed", exposed)
    except ConfigError as exc:  # the message must not carry our file path, nor $VAR values
        problems = [without_env_values(p, raw) for p in exc.problems]
        raise ConfigError("the saved config is invalid, so the running one stays:\n  - "
                          + "\n  - ".join(problems), problems) from None
    listening = (old.config.host, old.config.port)
    configured = (runtime.config.host, runtime.config.port)
    relaunch = _relaunches(app, runtime.config)
    result = ReloadResult(runtime, listening, configured, relaunch)
    if relaunch and app.get(LIFECYCLE) is not None:
        return result  # the process starts over; in-flight requests finish on the old config
    if not relaunch and configured != listening:  # --host/--port still win over the file
        runtime = replace(runtime, config=replace(runtime.config, host=listening[0], port=listening[1]))
    swap_runtime(app, runtime)
    logging_ = app.get(LOGGING)
    if logging_ is not None:
        logging_.apply(runtime.config)
    return result
