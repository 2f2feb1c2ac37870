"""The static files over HTTP: redirect, types, caching, security headers, no escape from the
package, public with APIKEY, markup that needs no inline script, and a wheel that carries them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest

from ccr.server.api.webui import load_files

ROOT = Path(__file__).resolve().parents[2]


def config(url: str, **top: object) -> dict:
    return {"Providers": [{"name": "fake", "api_base_url": url, "api_key": "sk-x", "models": ["m"]}],
            "Router": {"default": "fake,m"}, "LOG": False, **top}


async def test_redirect_types_and_security_headers(ui_server, provider):
    ui = await ui_server(config(provider.url))
    async with aiohttp.ClientSession() as http:
        async with http.get(ui.url + "/ui", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/ui/"
        expected = {"": "text/html", "index.html": "text/html", "main.js": "text/javascript",
                    "style.css": "text/css", "favicon.svg": "image/svg+xml"}
        for name, content_type in expected.items():
            async with http.get(f"{ui.url}/ui/{name}") as resp:
                assert resp.status == 200, name
                assert resp.content_type == content_type
                csp = resp.headers["Content-Security-Policy"]
                assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
                assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["X-Frame-Options"] == "DENY"
                assert resp.headers["Cache-Control"] == "no-cache"
                etag = resp.headers["ETag"]
            async with http.get(f"{ui.url}/ui/{name}", headers={"If-None-Match": etag}) as resp:
                assert resp.status == 304 and await resp.read() == b""
        async with http.head(ui.url + "/ui/main.js") as resp:
            assert resp.status == 200 and resp.content_type == "text/javascript"


@pytest.mark.parametrize("path", [
    "/ui/nope.js", "/ui/__init__.py", "/ui/../ccr/config.py", "/ui/%2e%2e/ccr/config.py",
    "/ui/..%2fsetup.cfg", "/ui//etc/passwd", "/ui/%2Fetc%2Fpasswd", "/ui/__pycache__/x.pyc",
])
async def test_only_packaged_ui_files_are_served(ui_server, provider, path):
    ui = await ui_server(config(provider.url))
    async with aiohttp.ClientSession() as http:
        async with http.get(ui.url + path) as resp:
            body = await resp.json(content_type=None)
    assert resp.status == 404
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"


async def test_the_page_is_public_but_the_api_is_not_with_apikey(ui_server, provider):
    ui = await ui_server(config(provider.url, APIKEY="static-test-key-1234"))
    async with aiohttp.ClientSession() as http:
        for path in ("/ui", "/ui/", "/ui/api.js"):
            async with http.get(ui.url + path) as resp:
                assert resp.status == 200, path
        async with http.post(ui.url + "/ui/index.html") as resp:
            assert resp.status == 401  # only GET/HEAD are public
        async with http.get(ui.url + "/api/config") as resp:
            assert resp.status == 401
        async with http.get(ui.url + "/api/config", headers={"x-api-key": "static-test-key-1234"}) as resp:
            assert resp.status == 200


class _Markup(HTMLParser):
    """Collects what the CSP would block: inline scripts, inline styles, event attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("inline <style>")
        self.problems += [f"<{tag} {n}>" for n in names if n == "style" or n.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline script text")


def test_the_files_need_no_inline_code_and_load_nothing_from_elsewhere():
    files = load_files()
    assert {"index.html", "main.js", "api.js", "style.css", "favicon.svg"} <= set(files)
    assert not [name for name in files if name.endswith(".py")]
    markup = _Markup()
    markup.feed(files["index.html"].body.decode())
    assert markup.problems == []
    html = files["index.html"].body.decode()
    assert re.findall(r'(?:src|href)="([^"#][^"]*)"', html) == [
        "favicon.svg", "vendor/uPlot.min.css", "style.css", "main.js", "favicon.svg"]
    for name, file in files.items():
        text = file.body.decode()
        if name.endswith(".js"):
            imports = re.findall(r'^import .* from "([^"]+)";$', text, re.M)
            assert all(spec.startswith("./") for spec in imports), (name, imports)
            assert "innerHTML" not in text and "eval(" not in text and "import(" not in text, name
        if name.endswith(".css"):
            assert "url(" not in text and "@import" not in text


def test_a_wheel_carries_and_serves_the_ui(tmp_path):
    """Build a wheel from a copy of the tree, install it elsewhere, load the files from there."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    if not (src / "README.md").exists():
        (src / "README.md").write_text("ccr\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("ccr", "transformers", "ui"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, env=env, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                    str(wheel)], check=True, env=env, cwd=tmp_path)
    probe = ("import ccr.server.api.webui as w, sys; files = w.load_files(); "
             "assert w.__file__.startswith(sys.argv[1]), w.__file__; print(' '.join(sorted(files)))")
    out = subprocess.run([sys.executable, "-c", probe, str(site)], check=True, capture_output=True, text=True,
                         env={**env, "PYTHONPATH": str(site)}, cwd=tmp_path)
    assert set(out.stdout.split()) == set(load_files())
