"""One call to a provider, with ccr's error mapping, as an async context manager.

    async with open_upstream(request.app, runtime, route, key, up, on_headers) as (is_stream, body):
        ...   # read the reply; network failures while reading are mapped too

An error status becomes `upstream_error` (the provider's message, our status; 401/429 mark
the key in the pool), a refused connection 502, a silence of API_TIMEOUT_MS 504, a reply cut
off 502. Used by /v1/chat/completions; the same mapping as `_call` in messages.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ccr import jsonlib
from ccr.errors import UpstreamError, upstream_error
from ccr.keys import HTTP
from ccr.router import Route
from ccr.runtime import Runtime
from ccr.transformers import Upstream
from ccr.upstream import Body, call_timeout, sniff

__all__ = ["open_upstream"]

_MAX_ERROR_BODY = 64 * 1024


def _host(url: str) -> str:
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or url[:40]


@asynccontextmanager
async def open_upstream(app: web.Application, runtime: Runtime, route: Route, key: str, up: Upstream,
                        on_headers: Callable[[], None]) -> AsyncIterator[tuple[bool, Body]]:
    config = runtime.config
    label = route.name
    try:
        async with app[HTTP].post(up.url, data=jsonlib.dumps(up.body), headers=dict(up.headers),
                                  timeout=call_timeout(config), proxy=config.proxy_url) as resp:
            on_headers()
            if resp.status >= 400:
                text = (await resp.content.read(_MAX_ERROR_BODY)).decode("utf-8", "replace")
                retry = resp.headers.get("retry-after")
                if resp.status in (401, 429):
                    runtime.keys(route.provider).refused(key, float(retry) if retry and retry.isdigit() else None)
                raise upstream_error(route.provider.name, route.model, resp.status, text, retry)
            yield await sniff(resp)
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamError(f"{label}: cannot connect to {_host(up.url)}: {exc.os_error.strerror or exc}",
                            status=502) from None
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise UpstreamError(f"{label}: no answer from {_host(up.url)} within "
                            f"API_TIMEOUT_MS={config.api_timeout_ms}", status=504,
                            error_type="timeout_error") from None
    except aiohttp.ClientPayloadError as exc:
        raise UpstreamError(f"{label}: the provider's reply was cut off: {exc}", status=502) from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"{label}: request to {_host(up.url)} failed: {type(exc).__name__}",
                            status=502) from None
