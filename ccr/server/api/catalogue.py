"""GET /api/transformers: every transformer a config can name, built in or from a plugin.

    {"transformers": [{"name": "gemini", "endpoint": "/v1beta/models/:modelAndAction",
                       "origin": "built-in", "dialect": true, "options_schema": null}, ...]}

Built-ins come first in registry order; a plugin that replaces a built-in shows its own path.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ccr.server.keys import RUNTIME

__all__ = ["routes", "setup", "catalogue"]

routes = web.RouteTableDef()


def catalogue(registry: Any) -> list[dict[str, Any]]:
    return [{"name": entry.cls.name, "endpoint": entry.cls.endpoint, "origin": entry.origin,
             "dialect": bool(entry.cls.dialect), "options_schema": entry.cls.options_schema}
            for entry in registry.values()]


@routes.get("/api/transformers")
async def transformers(request: web.Request) -> web.Response:
    return web.json_response({"transformers": catalogue(request.app[RUNTIME].registry)})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
