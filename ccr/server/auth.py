"""Who may talk to ccr.

With `APIKEY` set, every endpoint except `/`, `/health` and the static UI needs the key, in
`x-api-key` or `Authorization: Bearer`, compared in constant time.

Without `APIKEY`, ccr only listens on loopback (config validation refuses anything else), and a
request must also come from this machine's own pages: its `Host` must be a loopback name (which
defeats DNS rebinding: a hostile page on `evil.example` that resolves to 127.0.0.1 sends
`Host: evil.example`) and its `Origin`, if any, must be ccr's own address (a cross-site form or
fetch carries the attacker's origin).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from ccr.config import LOOPBACK_HOSTS
from ccr.errors import AuthError, CCRError

from .keys import RUNTIME

__all__ = ["auth_middleware", "is_public", "presented_key", "MODEL_CREDENTIALS", "ModelCredentials",
           "BIND_HOSTS", "bind_hosts"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MODEL_PATHS = frozenset({"/v1/messages", "/v1/messages/count_tokens"})


class ModelCredentials(Protocol):
    def accepts(self, key: str) -> bool: ...


#: Keys that are good for model calls only (/v1/messages), never for the management or
#: execution API: the execution API gives each Claude Code CLI it runs a token of its own, so
#: an agent that reads its environment never holds ccr's APIKEY.
MODEL_CREDENTIALS: web.AppKey[list[ModelCredentials]] = web.AppKey("model_credentials", list)


#: The addresses this process listens on, as given to the socket (set by ccr.server.serve).
BIND_HOSTS: web.AppKey[tuple[str, ...]] = web.AppKey("bind_hosts", tuple)


def bind_hosts(app: web.Application) -> tuple[str, ...]:
    """Where this server listens; an app served by other means is taken at its config's word."""
    return app.get(BIND_HOSTS) or (app[RUNTIME].config.host,)


def is_public(request: web.Request) -> bool:
    path = request.path
    if request.method not in ("GET", "HEAD"):
        return False
    return path in ("/", "/health") or path == "/ui" or path.startswith("/ui/")


def presented_key(request: web.Request) -> str | None:
    """The key the client sent: x-api-key, else an Authorization bearer token."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:3456
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _own_origins(request: web.Request, port: int) -> set[str]:
    ports = {port}
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        ports.add(int(sockname[1]))
    origins = set()
    for p in ports:
        origins.update({f"http://127.0.0.1:{p}", f"http://localhost:{p}", f"http://[::1]:{p}"})
    return origins


def check(request: web.Request) -> None:
    """Raise AuthError (401 or 403) unless the request may proceed."""
    config = request.app[RUNTIME].config
    if config.apikey:
        key = presented_key(request)
        if key is None:
            raise AuthError("APIKEY is missing: send the key in the x-api-key header "
                            "or as Authorization: Bearer <key>")
        if hmac.compare_digest(key.encode(), config.apikey.encode()):
            return
        if request.path in _MODEL_PATHS and any(c.accepts(key) for c in request.app.get(MODEL_CREDENTIALS, ())):
            return
        raise AuthError("Invalid API key")
    if _host_name(request.headers.get("Host", "")) not in LOOPBACK_HOSTS:
        raise CCRError("Host not allowed: without an APIKEY ccr only answers requests addressed "
                       "to 127.0.0.1 or localhost", status=403, error_type="permission_error")
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") not in _own_origins(request, config.port):
        raise CCRError("CORS not allowed for this origin", status=403, error_type="permission_error")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_public(request):
        check(request)
    return await handler(request)
