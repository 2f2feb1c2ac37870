"""Every route the app serves, read from its router rather than from a list kept by hand: a new
endpoint is checked the day it is added. Outside the public pages (/, /health, /ui) nothing
answers without a credential; outside the model doors (/v1/*) the client's key is not enough."""

from __future__ import annotations

import re
from typing import Any

from .conftest import LONG_KEY

ADMIN_KEY = "admin-key-0123456789abcdef-xyz"
PUBLIC = re.compile(r"^/(health)?$|^/ui(/|$)")


def _routes(app: Any) -> list[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "OPTIONS") or PUBLIC.match(path):
            continue
        found.add((route.method, re.sub(r"\{[^}]+\}", "x1", path)))  # any value for a {variable}
    return sorted(found)


async def test_no_route_answers_without_its_credential(admin_server: Any) -> None:
    admin = await admin_server({"Providers": [], "Router": {}, "APIKEY": LONG_KEY, "ADMIN_APIKEY": ADMIN_KEY})
    routes = _routes(admin.app)
    assert ("POST", "/v1/messages") in routes and ("POST", "/api/claude-code") in routes
    assert len(routes) >= 25, routes  # the router was read, not a handful of paths
    before = admin.path.read_bytes()
    for method, path in routes:
        status, body, _ = await admin.call(method, path, auth=False, json_body={})
        assert status == 401, (method, path, status, body)
        assert body["type"] == "error" and body["error"]["type"] == "authentication_error", (method, path)
        if path.startswith("/v1/"):
            continue
        status, body, _ = await admin.call(method, path, auth=False, json_body={},
                                           headers={"x-api-key": LONG_KEY})
        assert status in (401, 403), (method, path, "the client key opened a management route", body)
        assert ADMIN_KEY not in str(body) and LONG_KEY not in str(body)
    assert admin.path.read_bytes() == before  # no config was written on the way
