"""Typed keys for application state (aiohttp's answer to global singletons).

Each subsystem that keeps state on the app defines its key here, so any handler can find it
with `request.app[KEY]` and get the right type back without a cast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import ClientSession, web

from ccr.proxy.records import Adjuster, Observers

if TYPE_CHECKING:
    from ccr.proxy.runtime import Runtime

    from .state import ServerState

__all__ = ["RUNTIME", "HTTP", "STATE", "RECORD_OBSERVERS", "REQUEST_ADJUSTERS"]

#: The current config snapshot with its router and chains; swapped whole on reload.
RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
#: The one upstream HTTP client (connection pool) of this app.
HTTP: web.AppKey[ClientSession] = web.AppKey("http", ClientSession)
#: Process facts: start time, config path, version.
STATE: web.AppKey[ServerState] = web.AppKey("state")
#: Called with every finished request's record (stats, usage ledger, inspector).
RECORD_OBSERVERS: web.AppKey[Observers] = web.AppKey("record_observers", Observers)
#: Called with every routed request before it is sent (execution tasks, usage limits).
REQUEST_ADJUSTERS: web.AppKey[list[Adjuster]] = web.AppKey("request_adjusters", list)
