"""Management API: config, restart, logs, version and health.

Shapes follow claude-code-router's so its UI habits and users' scripts keep working; errors
are always Anthropic-shaped (`{"type":"error","error":{"type","message"}}`).

    GET    /api/config          the config file as written ($VARs stay references)
    POST   /api/config          validate, back up, write atomically -> {"success", "message"}
    POST   /api/restart         apply the saved config               -> {"success", "message", "restart"}
                                 ("in-process"; "process" when a new HOST/PORT relaunches ccr)
    GET    /api/logs/files      [{"name", "size", "lastModified"}], newest first
    GET    /api/logs            ?file=&lines=&offset=&level=&q=      -> ["line", ...] (oldest first)
    DELETE /api/logs            ?file= (one) or nothing (all)        -> {"success", "message"}
    GET    /api/stats           see ccr/server/api/usage.py (the usage ledger)
    GET    /version             {"claude_code_version", "api_version", "timestamp"}
    GET    /health              {"status": "ok", "version", "claude_code_available", ...}  (public)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from ccr import __version__
from ccr.config import read_raw
from ccr.config.extras import config_backups
from ccr.config.guards import code_path_changes, exposure_problems, without_env_values
from ccr.config.store import ConfigStore
from ccr.errors import ConfigError, RequestError
from ccr.execution.claude import CLAUDE_PROBE, ClaudeProbe
from ccr.logs.files import SERVER_PREFIX
from ccr.logs.view import clear, line_filter, list_files, open_log, tail
from ccr.proxy.runtime import validate_raw
from ccr.server.body import read_json
from ccr.server.keys import RUNTIME, STATE
from ccr.server.lifecycle import LIFECYCLE
from ccr.server.reload import RELOAD_LOCK, apply_saved_config, hosts_after_apply

__all__ = ["setup", "CONFIG_STORE", "MAX_LINES", "DEFAULT_LINES"]

routes = web.RouteTableDef()
log = structlog.get_logger("ccr.admin")
CONFIG_STORE: web.AppKey[ConfigStore] = web.AppKey("config_store", ConfigStore)
DEFAULT_LINES = 500
MAX_LINES = 10_000
_HEALTH_WAIT = 1.0  # seconds /health waits for a `claude --version` still running


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _config_error(exc: ConfigError, raw: Mapping[str, Any] | None = None) -> web.Response:
    """400 with the message and, for programs, every problem as a list ($VAR values left out)."""
    def safe(text: str) -> str:
        return without_env_values(text, raw) if raw is not None else text
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": safe(exc.message),
                                       "problems": [safe(p) for p in exc.problems]}}
    return web.json_response(body, status=400)


# ---- config ----------------------------------------------------------------------------------

@routes.get("/api/config")
async def get_config(request: web.Request) -> web.Response:
    store = request.app.get(CONFIG_STORE)
    running = request.app[RUNTIME].config
    if store is None:
        return web.json_response(dict(running.raw))
    try:
        raw = await asyncio.to_thread(read_raw, store.path)
    except ConfigError:  # broken by hand since: show what runs, so the UI can fix and save it
        return web.json_response(dict(running.raw), headers={"x-ccr-config-source": "running"})
    return web.json_response(raw, headers={"x-ccr-config-source": "file"})


@routes.post("/api/config")
async def post_config(request: web.Request) -> web.Response:
    store = request.app.get(CONFIG_STORE)
    if store is None:
        raise ConfigError("this server was started without a config file, so there is nowhere to save")
    raw = await _json_object(request, "the new config")
    try:
        await _check_new_config(request.app, store, raw)
    except ConfigError as exc:
        return _config_error(exc, raw)
    backup = await asyncio.to_thread(store.save, raw, keep=config_backups(raw))
    log.info("config saved", backup=backup.name if backup else None)
    return web.json_response({"success": True, "message": "Config saved successfully",
                              "backup": backup.name if backup else None})


async def _check_new_config(app: web.Application, store: ConfigStore, raw: dict[str, Any]) -> None:
    """The start-up validation, plus what only the API refuses: a change to a code path
    (compared with the file), and a key missing or short for the address in use. Nothing is
    imported: the running plugins and custom router stand in for the file's."""
    running = app[RUNTIME]
    try:
        current: Mapping[str, Any] = await asyncio.to_thread(read_raw, store.path)
    except ConfigError:  # broken by hand: compare with what runs
        current = running.config.raw
    problems = code_path_changes(raw, current)
    try:
        # no path, so no message names our files
        new = validate_raw(raw, home=running.config.home, reuse_code_of=running).config
    except ConfigError as exc:
        problems += exc.problems
    else:
        problems += exposure_problems(hosts_after_apply(app, new), new.apikey, new.access.admin_key)
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems), problems)


async def _json_object(request: web.Request, what: str) -> dict[str, Any]:
    data: dict[str, Any] = await read_json(request, what)  # size, charset, depth, NaN: 4xx
    return data


# ---- restart ---------------------------------------------------------------------------------

@routes.post("/api/restart")
async def restart(request: web.Request) -> web.StreamResponse:
    app = request.app
    async with app[RELOAD_LOCK]:
        try:
            result = await apply_saved_config(app)
        except ConfigError as exc:
            return _config_error(exc)
    body: dict[str, Any] = {"success": True, "message": "Service restart initiated", "restart": "in-process"}
    if not result.relaunch:
        log.info("config applied", providers=len(result.runtime.config.providers))
        return web.json_response(body)
    (old_host, old_port), (host, port) = result.listening, result.configured
    body["address"] = f"http://{_url_host(host)}:{port}"
    lifecycle = app.get(LIFECYCLE)
    if lifecycle is None:  # embedded (tests, another program's event loop): cannot re-bind
        body["restart"] = "manual"
        body["message"] = (f"Service restart initiated; HOST/PORT changed from {old_host}:{old_port} "
                           f"to {host}:{port}: restart ccr to listen there")
        return web.json_response(body)
    body["restart"] = "process"
    log.warning("relaunching to listen on the new address", old=f"{old_host}:{old_port}", new=f"{host}:{port}")
    response = web.json_response(body)
    await response.prepare(request)
    await response.write_eof()  # answer first, then stop
    lifecycle.relaunch()
    return response


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


# ---- logs ------------------------------------------------------------------------------------

def _file_param(request: web.Request) -> str | None:
    values = request.query.getall("file", [])
    if len(values) > 1:
        raise RequestError("file: give one file name")
    return values[0] if values else None


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise RequestError(f"{name}: expected a whole number from {low} to {high}, got {value[:40]!r}")
    return int(value)


@routes.get("/api/logs/files")
async def log_files(request: web.Request) -> web.Response:
    rows = await asyncio.to_thread(list_files, request.app[RUNTIME].config.log_dir)
    return web.json_response(rows)


@routes.get("/api/logs")
async def read_log(request: web.Request) -> web.Response:
    log_dir = request.app[RUNTIME].config.log_dir
    name = _file_param(request)
    lines = _int_param(request, "lines", DEFAULT_LINES, 1, MAX_LINES)
    offset = _int_param(request, "offset", 0, 0, 10_000_000)
    accept = line_filter(request.query.get("level") or None, request.query.get("q") or None)
    if name is None:  # the newest server log, like the UI's first view
        rows = await asyncio.to_thread(list_files, log_dir)
        name = next((r["name"] for r in rows if r["name"].startswith(SERVER_PREFIX)), None)
        if name is None:
            return web.json_response([], headers={"x-ccr-has-more": "false"})

    def read() -> Any:
        fd = open_log(log_dir, name, os.O_RDONLY)
        try:
            return tail(fd, lines, offset, accept)
        finally:
            os.close(fd)

    result = await asyncio.to_thread(read)
    return web.json_response(result.lines, headers={
        "x-ccr-file": name, "x-ccr-has-more": str(result.has_more).lower(),
        "x-ccr-scanned-bytes": str(result.scanned)})


@routes.delete("/api/logs")
async def clear_logs(request: web.Request) -> web.Response:
    name = _file_param(request)
    cleared = await asyncio.to_thread(clear, request.app[RUNTIME].config.log_dir, name)
    return web.json_response({"success": True, "message": "Logs cleared successfully", "cleared": cleared})


# ---- version, health ------------------------------------------------------------------------

@routes.get("/version")
async def version(request: web.Request) -> web.Response:
    claude = await request.app[CLAUDE_PROBE].version(request.app[RUNTIME].config)
    return web.json_response({"claude_code_version": claude, "api_version": __version__,
                              "timestamp": _iso_now()})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    task = request.app[CLAUDE_PROBE].start(runtime.config)
    claude = await request.app[CLAUDE_PROBE].version(runtime.config, wait=_HEALTH_WAIT)
    return web.json_response({
        "status": "ok",
        "version": __version__,
        "uptime_seconds": round(request.app[STATE].uptime, 3),
        "timestamp": _iso_now(),
        "providers": len(runtime.config.providers),
        "claude_code_available": (claude is not None) if task.done() else None,
        "claude_code_version": claude,
    })


# ---- wiring ----------------------------------------------------------------------------------

async def _probe_ctx(app: web.Application) -> Any:
    """Ask `claude --version` at start-up, in the background, so /health need not wait."""
    app[CLAUDE_PROBE].start(app[RUNTIME].config)
    yield
    await app[CLAUDE_PROBE].close()


def setup(app: web.Application) -> None:
    path = app[STATE].config_path
    if path is not None:
        app[CONFIG_STORE] = ConfigStore(path)
    app[CLAUDE_PROBE] = ClaudeProbe()
    app[RELOAD_LOCK] = asyncio.Lock()
    app.cleanup_ctx.append(_probe_ctx)
    app.add_routes(routes)
