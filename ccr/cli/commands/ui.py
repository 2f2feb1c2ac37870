"""`ccr ui`: start the service if needed and open its web UI in the browser."""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from typing import Any

from ccr import admin_token

from .common import ensure_service, home

__all__ = ["register"]


def register(commands: Any) -> None:
    ui = commands.add_parser("ui", help="open the web UI (starts the service if needed)",
                             description="Start the service if needed and open http://127.0.0.1:PORT/ui/ "
                                         "in the browser; without a display, print the address.")
    ui.add_argument("--no-open", action="store_true", help="only print the address")
    ui.set_defaults(func=run)


def _has_display() -> bool:
    """Without one, webbrowser would pick a text browser and take over the terminal."""
    if os.environ.get("BROWSER") or sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    found = ensure_service()
    assert found.record is not None
    # the page keeps the local admin token it finds after `#token=` and removes it from the address
    token = admin_token.read(home())
    url = f"{found.record.url}/ui/" + (f"#token={token}" if token else "")
    if args.no_open or not _has_display():
        print(url)
        return 0
    print(f"Opening UI at {url}")
    if not webbrowser.open(url):
        print(f"ccr: no browser found; open {url} yourself", file=sys.stderr)
    return 0
