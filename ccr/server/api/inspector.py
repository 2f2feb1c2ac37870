"""The request inspector's API (the UI's Inspector page).

    GET    /api/inspector        {"enabled", "attached", "max_requests", "max_bytes", "bytes", "entries": [...]}
    GET    /api/inspector/{id}   one entry: the summary, "attempts", "client_body", "provider_body", "reply"
                                 (bodies as text, secrets redacted), "truncated"
    DELETE /api/inspector        forget every entry: {"cleared": n}

Capture is switched on by `INSPECTOR: true` in the config (a save and restart applies it).
`observer(app)` is the callable for the pipeline's RECORD_OBSERVERS list (it also sets
`want_bodies` on that list while the inspector is on, so the bodies are captured).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ccr.config.extras import InspectorSettings, inspector_settings
from ccr.errors import NotFoundError
from ccr.logs.setup import config_secrets
from ccr.proxy.records import RecordedExchange
from ccr.server.inspector import Inspector
from ccr.server.keys import RUNTIME

__all__ = ["INSPECTOR", "setup", "observer"]

INSPECTOR: web.AppKey[Inspector] = web.AppKey("inspector", Inspector)
routes = web.RouteTableDef()


def _settings(app: web.Application) -> InspectorSettings:
    return inspector_settings(app[RUNTIME].config.data)


@routes.get("/api/inspector")
async def list_entries(request: web.Request) -> web.Response:
    settings = _settings(request.app)
    inspector = request.app[INSPECTOR]
    return web.json_response({"enabled": settings.enabled, "attached": inspector.attached,
                              "max_requests": settings.max_requests,
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


def observer(app: web.Application, observers: Any) -> Callable[[RecordedExchange], None]:
    """The RECORD_OBSERVERS callable: keep each exchange while INSPECTOR is on."""
    inspector = app[INSPECTOR]
    inspector.attached = True

    def observe(exchange: RecordedExchange) -> None:
        settings = _settings(app)
        observers.want_bodies = settings.enabled  # bodies are captured only while someone looks
        inspector.observe(exchange, settings, config_secrets(app[RUNTIME].config))

    observers.want_bodies = _settings(app).enabled
    return observe


def setup(app: web.Application) -> None:
    app[INSPECTOR] = Inspector()
    app.add_routes(routes)
