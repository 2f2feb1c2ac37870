"""The static management UI at /ui/ (plain HTML, CSS and JavaScript modules from `ccr.ui`).

The files are read once, at start-up, through `importlib.resources`, so a wheel install serves
them as well as an editable one, and only the files that exist in the package can ever be
served (no path from the URL touches the file system). The auth middleware lets GET/HEAD on
/ui and /ui/* through without a key: the page itself holds no data; every call it makes to
/api/* is checked as usual.

    GET /ui            302 -> /ui/
    GET /ui/           index.html
    GET /ui/app.js     text/javascript, with ETag; 304 on If-None-Match
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

__all__ = ["setup", "UI_FILES", "UiFile", "load_files", "SECURITY_HEADERS"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

#: No inline script or style, nothing from another origin, never inside a frame.
CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

# Revalidate every time (the ETag makes that a cheap 304): files carry no content hash in their
# names, so a cached app.js could otherwise outlive an upgrade and mismatch the new index.html.
_CACHE_CONTROL = "no-cache"


@dataclass(frozen=True, slots=True)
class UiFile:
    body: bytes
    content_type: str
    etag: str


UI_FILES: web.AppKey[dict[str, UiFile]] = web.AppKey("ui_files", dict)


def load_files(root: Traversable | None = None) -> dict[str, UiFile]:
    """Every servable file under the `ccr.ui` package, keyed by its path relative to it."""
    files: dict[str, UiFile] = {}
    stack: list[tuple[str, Traversable]] = [("", root or resources.files("ccr.ui"))]
    while stack:
        prefix, folder = stack.pop()
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                if not entry.name.startswith(("_", ".")):
                    stack.append((name + "/", entry))
                continue
            suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
            if suffix in _TYPES:
                body = entry.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                files[name] = UiFile(body, _TYPES[suffix], etag)
    return files


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/")


async def serve(request: web.Request) -> web.Response:
    name = request.match_info["name"] or "index.html"
    file = request.app[UI_FILES].get(name)
    if file is None:
        raise web.HTTPNotFound()
    headers = {**SECURITY_HEADERS, "Cache-Control": _CACHE_CONTROL, "ETag": file.etag}
    if file.etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        return web.Response(status=304, headers=headers)
    return web.Response(body=file.body, headers={**headers, "Content-Type": file.content_type})


def setup(app: web.Application) -> None:
    app[UI_FILES] = load_files()
    app.router.add_get("/ui", redirect)
    app.router.add_get("/ui/{name:.*}", serve)
