"""Who may talk to ccr. Three kinds of endpoint, three rules:

    public      GET /, /health, /ui/*             anyone (the UI page holds no data)
    model       /v1/*                             APIKEY when set (or a running task's token on
                                                  /v1/messages); without APIKEY, open to this
                                                  machine only
    management  everything else: /api/* (config,  the admin credential: ADMIN_APIKEY (APIKEY when
                logs, restart, stats, tasks,      unset), or the local admin token of
                /api/claude-code*), /metrics,     `$CCR_HOME/admin-token` (ccr.admin_token), which
                /version                          the `ccr` command and `ccr ui` send

Keys come in `x-api-key` or `Authorization: Bearer`, compared in constant time. So the key a
Claude Code client holds is enough for model calls but, once ADMIN_APIKEY differs, not to
change the config or start agents; and with no key at all, a web page or another local user
cannot reach the management API (the token file is readable by its owner only).

Without APIKEY, /v1/* answers only requests from a loopback peer (whatever `Host` says) whose
`Host` is a loopback name (which defeats DNS rebinding: a hostile page on `evil.example` that
resolves to 127.0.0.1 sends `Host: evil.example`) and whose `Origin`, if any, is ccr's own
address (a cross-site form or fetch carries the attacker's origin).

Wrong or missing keys are logged and throttled per client address (ccr.server.throttle).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from ccr import admin_token
from ccr.config import LOOPBACK_HOSTS, config_home
from ccr.errors import AuthError, CCRError, RateLimitError

from .keys import RUNTIME
from .throttle import AUTH_THROTTLE, AuthThrottle

__all__ = ["auth_middleware", "setup", "is_public", "is_model_call", "presented_key", "MODEL_CREDENTIALS",
           "ModelCredentials", "ADMIN_TOKEN", "AdminToken", "BIND_HOSTS", "bind_hosts"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TASK_TOKEN_PATHS = frozenset({"/v1/messages", "/v1/messages/count_tokens"})


class ModelCredentials(Protocol):
    def accepts(self, key: str) -> bool: ...


#: Keys that are good for model calls only (/v1/messages), never for the management or
#: execution API: the execution API gives each Claude Code CLI it runs a token of its own, so
#: an agent that reads its environment never holds ccr's APIKEY.
MODEL_CREDENTIALS: web.AppKey[list[ModelCredentials]] = web.AppKey("model_credentials", list)


@dataclass(slots=True)
class AdminToken:
    """The local admin token, read or written at start (ccr.admin_token)."""

    value: str | None = None


ADMIN_TOKEN: web.AppKey[AdminToken] = web.AppKey("admin_token", AdminToken)

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


def is_model_call(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


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


def _same(key: str, expected: str | None) -> bool:
    if not expected:
        return False
    return hmac.compare_digest(key.encode(), expected.encode())


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


def _loopback_peer(request: web.Request) -> bool:
    return _is_loopback(request.remote or "")


@functools.lru_cache(maxsize=256)  # peers are few; parsing one is the dearest step of a local check
def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _local_only(request: web.Request, port: int) -> None:
    """Without a key: this machine's own clients and pages only."""
    if not _loopback_peer(request):  # the socket's peer, which no header can change
        raise CCRError("Not allowed: without an APIKEY ccr only answers this machine",
                       status=403, error_type="permission_error")
    if _host_name(request.headers.get("Host", "")) not in LOOPBACK_HOSTS:
        raise CCRError("Host not allowed: without an APIKEY ccr only answers requests addressed "
                       "to 127.0.0.1 or localhost", status=403, error_type="permission_error")
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") not in _own_origins(request, port):
        raise CCRError("CORS not allowed for this origin", status=403, error_type="permission_error")


def _model_call_allowed(request: web.Request, key: str) -> bool:
    access = request.app[RUNTIME].config
    if _same(key, access.apikey) or _same(key, access.access.admin_key):
        return True
    if request.path in _TASK_TOKEN_PATHS:
        return any(c.accepts(key) for c in request.app.get(MODEL_CREDENTIALS, ()))
    return False


def _management_allowed(request: web.Request, key: str) -> bool:
    token = request.app[ADMIN_TOKEN].value if ADMIN_TOKEN in request.app else None
    return _same(key, request.app[RUNTIME].config.access.admin_key) or _same(key, token)


def check(request: web.Request) -> None:
    """Raise AuthError (401), RateLimitError (429) or a 403 unless the request may proceed."""
    config = request.app[RUNTIME].config
    model = is_model_call(request.path)
    if model and not config.apikey:
        _local_only(request, config.port)
        return
    if not model and not config.access.admin_key:  # the token's use is local too
        _local_only(request, config.port)
    key = presented_key(request)
    if key and (_model_call_allowed(request, key) if model else _management_allowed(request, key)):
        return
    wait = request.app[AUTH_THROTTLE].failed(request.remote, request.path) if AUTH_THROTTLE in request.app else None
    if wait:
        raise RateLimitError("Too many failed authentication attempts from this address; retry later",
                             retry_after=max(1, math.ceil(wait)))
    if model:
        raise AuthError("Invalid API key" if key else "APIKEY is missing: send the key in the x-api-key "
                        "header or as Authorization: Bearer <key>")
    if config.access.admin_key:
        raise AuthError("Invalid admin key" if key else "this endpoint needs the admin key (ADMIN_APIKEY, "
                        "else APIKEY) in the x-api-key header or as Authorization: Bearer <key>")
    raise AuthError("this endpoint needs ccr's local admin token (the file admin-token in ccr's home "
                    "folder, readable by its owner only); the ccr command and `ccr ui` send it for you")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # no such path: the answer is a 404 whoever asks (ccr's routes are no secret)
    missing = request.match_info.http_exception
    if not is_public(request) and (missing is None or missing.status != 404):
        check(request)
    return await handler(request)


async def _admin_token_ctx(app: web.Application) -> AsyncIterator[None]:
    """Read or write `$CCR_HOME/admin-token` at start (the home the `ccr` command looks in)."""
    app[ADMIN_TOKEN].value = admin_token.ensure(config_home())
    yield


def setup(app: web.Application) -> None:
    app[MODEL_CREDENTIALS] = []
    app[ADMIN_TOKEN] = AdminToken()
    app[AUTH_THROTTLE] = AuthThrottle()
    app.cleanup_ctx.append(_admin_token_ctx)
