"""The request inspector's API (the UI's Inspector page).

    GET    /api/inspector        {"enabled", "max_requests", "max_bytes", "bytes", "entries": [...]}
    GET    /api/inspector/{id}   one entry: the summary, "attempts", "client_body", "provider_body", "reply"
                                 (bodies as text, secrets redacted), "truncated"
    DELETE /api/inspector        forget every entry: {"cleared": n}

Capture is switched on by `INSPECTOR: true` in the config (a save and restart applies it:
`follow_config` runs at start and whenever ccr.server.reload swaps the config). While it is on,
the inspector's observer is in the pipeline's RECORD_OBSERVERS list and `want_bodies` is set on
that list, so the front doors, the pipeline and the stream writer keep the bodies. While it is
off, neither: a request pays nothing for the inspector.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from ccr.config.extras import InspectorSettings, inspector_settings
from ccr.errors import NotFoundError
from ccr.logs.setup import config_secrets
from ccr.proxy.records import RecordedExchange
from ccr.server.inspector import Inspector
from ccr.server.keys import RECORD_OBSERVERS, RUNTIME

__all__ = ["INSPECTOR", "setup", "follow_config"]

INSPECTOR: web.AppKey[Inspector] = web.AppKey("inspector", Inspector)
routes = web.RouteTableDef()


def _settings(app: web.Application) -> InspectorSettings:
    return inspector_settings(app[RUNTIME].config.data)


@routes.get("/api/inspector")
async def list_entries(request: web.Request) -> web.Response:
    settings = _settings(request.app)
    inspector = request.app[INSPECTOR]
    return web.json_response({"enabled": settings.enabled, "max_requests": settings.max_requests,
                              "max_bytes": settings.max_bytes, "bytes": inspector.size,
                              "entries": inspector.summaries()})


@routes.get("/api/inspector/{id}")
async def get_entry(request: web.Request) -> web.Response:
    text = request.match_info["id"]
    entry = await asyncio.to_thread(request.app[INSPECTOR].entry, int(text)) if text.isdigit() else None
    if entry is None:
        raise NotFoundError(f"no inspector entry {text[:40]!r}: it was never kept, or was dropped or cleared since")
    return web.json_response(entry)


@routes.delete("/api/inspector")
async def clear(request: web.Request) -> web.Response:
    return web.json_response({"cleared": request.app[INSPECTOR].clear()})


@dataclass(frozen=True, slots=True)
class _Observer:
    """The inspector's RECORD_OBSERVERS callable, with the settings and secrets of one config."""

    inspector: Inspector
    settings: InspectorSettings
    secrets: tuple[str, ...]

    def __call__(self, exchange: RecordedExchange) -> None:
        self.inspector.observe(exchange, self.settings, self.secrets)


def follow_config(app: web.Application) -> None:
    """Put the inspector's observer in RECORD_OBSERVERS (and ask for bodies) while the config
    says INSPECTOR: true; take it out otherwise. Entries already kept stay until cleared."""
    observers, config = app[RECORD_OBSERVERS], app[RUNTIME].config
    settings = inspector_settings(config.data)
    observers[:] = [o for o in observers if not isinstance(o, _Observer)]
    observers.want_bodies = settings.enabled
    if settings.enabled:
        secrets = tuple(config_secrets(config))
        observers.append(_Observer(app[INSPECTOR], settings, secrets))


def setup(app: web.Application) -> None:
    app[INSPECTOR] = Inspector()
    app.add_routes(routes)
    follow_config(app)
