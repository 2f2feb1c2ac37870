"""The application factory: `create_app(config)` wires state, middlewares and routes.

    app = create_app(load(config_path()))
    web.run_app(app, host=..., port=..., handler_cancellation=True)

Handler cancellation is on so that a client that goes away cancels its handler, which closes
the upstream request at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from ccr import __version__
from ccr.config import Config
from ccr.config.limits import max_body_bytes
from ccr.proxy.records import Observers
from ccr.proxy.runtime import Runtime, build_runtime
from ccr.server.api import execution as execution_api

from . import auth
from .api import admin, catalogue, chat, inspector, messages, models, usage, webui
from .auth import auth_middleware
from .keys import HTTP, RECORD_OBSERVERS, REQUEST_ADJUSTERS, RUNTIME, STATE
from .middlewares import error_middleware, request_id_middleware
from .state import ServerState

__all__ = ["create_app"]

routes = web.RouteTableDef()


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    return web.json_response({"message": "ccr: Anthropic API router", "version": __version__})


# GET /health and /version live with the other status endpoints in ccr.server.api.admin.


def create_app(config: Config, *, runtime: Runtime | None = None,
               config_path: Path | None = None) -> web.Application:
    app = web.Application(client_max_size=max_body_bytes(config.data),  # ccr.server.body reads the live one
                          middlewares=[request_id_middleware, error_middleware, auth_middleware])
    app[RUNTIME] = runtime or build_runtime(config)
    app[STATE] = ServerState(config_path=config_path or config.path)
    auth.setup(app)  # the admin token, task credentials, the failed-attempt throttle
    app[REQUEST_ADJUSTERS] = []
    app[RECORD_OBSERVERS] = Observers()
    app.cleanup_ctx.append(_session_ctx)
    app.on_startup.append(_warm_up_tokens)
    app.add_routes(routes)
    # each module wires itself
    for module in (messages, admin, catalogue, chat, models, execution_api, usage, webui, inspector):
        module.setup(app)
    return app


async def _warm_up_tokens(app: web.Application) -> None:
    app[RUNTIME].router.counter.warm_up()  # the vocabulary loads off the loop, before it is needed


async def _session_ctx(app: web.Application) -> AsyncIterator[None]:
    """One pooled client session to the providers for the app's whole life."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300,
                                     enable_cleanup_closed=False)
    # No cookie jar: ccr is shared, and a cookie one reply sets must not go out with the next
    # request (another client's, or another key's of the pool).
    session = aiohttp.ClientSession(connector=connector, timeout=app[RUNTIME].timeout,
                                    cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True, trust_env=False,
                                    json_serialize=json.dumps)
    app[HTTP] = session
    yield
    await session.close()
