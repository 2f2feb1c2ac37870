"""`ccr model`: show the routes, and set one.

    ccr model                                  # the routes and the models to choose from
    ccr model set default openrouter,gpt-4.1   # one route
    ccr model set background none              # remove a route (not default)
    ccr model info deepseek,deepseek-chat      # limits and prices ccr applies, and their source

On a terminal, `ccr model` (and `ccr model set ROUTE` without a model) offers numbered menus.
A change goes through the same validation as the management API: with the service running it is
sent to `POST /api/config` and applied with `POST /api/restart`; otherwise it is checked with
`ccr.runtime.validate_raw` and written atomically with a backup (ccr.config_store). Comments of a
JSON5 config are not kept in the new file (the backup has them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ccr.cli import daemon
from ccr.config import read_raw
from ccr.errors import ConfigError

from ..client import ServiceUnreachable, error_message
from .common import CLIError, client, config_file, home, read_config
from .usage import add_info_action

__all__ = ["register", "ROUTES"]

ROUTES = ("default", "background", "think", "longContext", "webSearch", "image")
THRESHOLD = "longContextThreshold"
_CLEAR = ("none", "-", "")


def register(commands: Any) -> None:
    model = commands.add_parser(
        "model", help="show the routes, or set one: ccr model set ROUTE PROVIDER,MODEL",
        description="Show which provider,model serves each route; on a terminal, pick one to change.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  ccr model\n  ccr model set default deepseek,deepseek-chat\n"
               "  ccr model set think none\n  ccr model set longContextThreshold 80000")
    model.add_argument("--config", help="config file (default: the running service's)")
    model.set_defaults(func=run_show)
    actions = model.add_subparsers(dest="action", metavar="ACTION")
    setter = actions.add_parser(
        "set", help="set a route", description=f"Set a route ({', '.join(ROUTES)}) to PROVIDER,MODEL, "
        f"`none` to remove it, or {THRESHOLD} to a number of tokens.")
    setter.add_argument("route", help=", ".join((*ROUTES, THRESHOLD)))
    setter.add_argument("value", nargs="?", help="PROVIDER,MODEL (omit on a terminal to pick from a menu)")
    setter.add_argument("--config", default=argparse.SUPPRESS,
                        help="config file (default: the running service's)")
    setter.set_defaults(func=run_set)
    add_info_action(actions)  # ccr model info PROVIDER,MODEL (ccr/cli/commands/usage.py)


def _route_name(text: str) -> str:
    wanted = text.replace("_", "").replace("-", "").lower()
    for name in (*ROUTES, THRESHOLD):
        if name.lower() == wanted:
            return name
    raise CLIError(f"unknown route {text!r}: use one of {', '.join((*ROUTES, THRESHOLD))}", 2)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _choices(raw: dict[str, Any]) -> list[str]:
    """Every "provider,model" the config offers."""
    out = []
    for provider in raw.get("Providers", raw.get("providers", [])) or []:
        if isinstance(provider, dict) and isinstance(provider.get("name"), str):
            out += [f"{provider['name']},{m}" for m in provider.get("models", []) if isinstance(m, str)]
    return out


def _load(args: argparse.Namespace) -> tuple[Path, dict[str, Any], daemon.Probe]:
    found = daemon.probe(home())
    path = config_file(args.config, found)
    if not path.exists():
        raise CLIError(f"{path}: no config file yet; `ccr start` writes one, or create it")
    return path, read_raw(path), found


def run_show(args: argparse.Namespace) -> int:
    path, raw, found = _load(args)
    router = raw.get("Router", {}) if isinstance(raw.get("Router"), dict) else {}
    print(f"routes in {path}:")
    for i, name in enumerate(ROUTES, 1):
        print(f"  {i}) {name:<12} {router.get(name) or '(not set)'}")
    print(f"     {THRESHOLD}: {router.get(THRESHOLD, 60000)}")
    choices = _choices(raw)
    print("models: " + (", ".join(choices) if choices else "none (add a provider with a models list)"))
    if not _interactive():
        return 0
    answer = _ask(f"route to change [1-{len(ROUTES)}, Enter to quit]: ", len(ROUTES), allow_empty=True)
    if answer is None:
        return 0
    return _pick_and_apply(path, raw, found, ROUTES[answer - 1], choices)


def run_set(args: argparse.Namespace) -> int:
    route = _route_name(args.route)
    path, raw, found = _load(args)
    if args.value is None:
        if route == THRESHOLD or not _interactive():
            raise CLIError(f"give the new value: ccr model set {route} "
                           + ("TOKENS" if route == THRESHOLD else "PROVIDER,MODEL"), 2)
        return _pick_and_apply(path, raw, found, route, _choices(raw))
    return _apply(path, raw, found, route, args.value)


def _pick_and_apply(path: Path, raw: dict[str, Any], found: daemon.Probe, route: str,
                    choices: list[str]) -> int:
    if not choices:
        raise CLIError("no models to choose from: add a provider with a models list first")
    for i, choice in enumerate(choices, 1):
        print(f"  {i}) {choice}")
    if route != "default":
        print("  0) none (remove this route)")
    low = 0 if route != "default" else 1
    answer = _ask(f"{route} [{low}-{len(choices)}]: ", len(choices), low=low)
    assert answer is not None
    return _apply(path, raw, found, route, choices[answer - 1] if answer else "none")


def _ask(prompt: str, high: int, *, low: int = 1, allow_empty: bool = False) -> int | None:
    while True:
        try:
            text = input(prompt).strip()
        except EOFError:
            raise CLIError("cancelled") from None
        if not text and allow_empty:
            return None
        if text.isdigit() and low <= int(text) <= high:
            return int(text)
        print(f"  type a number from {low} to {high}")


def _apply(path: Path, raw: dict[str, Any], found: daemon.Probe, route: str, value: str) -> int:
    router = raw.get("Router")
    router = dict(router) if isinstance(router, dict) else {}
    if route == THRESHOLD:
        if not value.isdigit() or int(value) <= 0:
            raise CLIError(f"{THRESHOLD}: expected a positive number of tokens, got {value!r}", 2)
        router[THRESHOLD] = int(value)
    elif value.strip().lower() in _CLEAR:
        if route == "default":
            raise CLIError("the default route cannot be removed; set it to another PROVIDER,MODEL", 2)
        router.pop(route, None)
    else:
        provider, _, model = value.partition(",")
        if not provider.strip() or not model.strip():
            raise CLIError(f"{value!r}: write the model as PROVIDER,MODEL", 2)
        router[route] = f"{provider.strip()},{model.strip()}"
    new = {**raw, "Router": router}
    shown = router.get(route, "(removed)")
    if found.running:
        _apply_live(path, new, found)
        print(f"{route}: {shown} (saved to {path}; the running service uses it now)")
        return 0
    from ccr.config.extras import config_backups
    from ccr.config.store import ConfigStore
    from ccr.proxy.runtime import (
        validate_raw,  # imports every transformer: only when needed
    )

    try:
        validate_raw(new, path=path)
    except ConfigError as exc:
        raise CLIError(exc.message) from None
    backup = ConfigStore(path).save(new, keep=config_backups(new))
    print(f"{route}: {shown} (saved to {path}" + (f"; previous file in {backup.name})" if backup else ")"))
    return 0


def _apply_live(path: Path, new: dict[str, Any], found: daemon.Probe) -> None:
    service = client(found, read_config(path))
    try:
        status, body = service.request("POST", "/api/config", new)
        if status != 200:
            raise CLIError(f"the service refused the change: {error_message(status, body)}")
        status, body = service.request("POST", "/api/restart", {})
        if status != 200:
            raise CLIError(f"saved, but the service could not apply it: {error_message(status, body)}")
    except ServiceUnreachable as exc:
        raise CLIError(f"the service stopped answering ({exc}); the change may not be saved") from None
