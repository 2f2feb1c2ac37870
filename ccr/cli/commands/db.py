"""`ccr db upgrade | status`: the shared database's schema (only with DATABASE_URL)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from ccr.database.connect import DatabaseError, open_pool
from ccr.database.migrations import LATEST, schema_state, upgrade
from ccr.database.url import ENV_VAR, database_url, display_url
from ccr.errors import ConfigError

from .common import CLIError, config_file, read_config

__all__ = ["register", "configured_url"]

T = TypeVar("T")


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="the shared PostgreSQL database: upgrade its schema, show its state",
                             description="Manage the shared database named by DATABASE_URL in the config "
                                         f"(or ${ENV_VAR}). Without one, ccr keeps its data in SQLite "
                                         "files under $CCR_HOME and needs none of this.")
    actions = db.add_subparsers(dest="action", metavar="ACTION")
    up = actions.add_parser("upgrade", help="apply the schema changes this ccr needs (safe to repeat)")
    up.add_argument("--config", help="config file (default: $CCR_CONFIG or $CCR_HOME/config.json)")
    up.set_defaults(func=run_upgrade)
    status = actions.add_parser("status", help="the schema version of the database and of this ccr")
    status.add_argument("--config", help="config file (default: $CCR_CONFIG or $CCR_HOME/config.json)")
    status.set_defaults(func=run_status)
    db.set_defaults(func=lambda args: db.print_help() or 1)


def configured_url(explicit: str | None) -> str:
    try:
        url = database_url(read_config(config_file(explicit)))
    except ConfigError as exc:
        raise CLIError(exc.message) from None
    if url is None:
        raise CLIError(f"no shared database is configured: set DATABASE_URL in the config or ${ENV_VAR} "
                       "(postgresql://user:password@host/db)")
    return url


def _with_pool(url: str, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `work` on a one-connection pool; a database error becomes a one-line CLI error."""
    async def go() -> T:
        pool = await open_pool(url, min_size=1, max_size=1)
        try:
            return await work(pool)
        finally:
            await pool.close()
    try:
        return asyncio.run(go())
    except DatabaseError as exc:
        raise CLIError(exc.message) from None


def run_upgrade(args: argparse.Namespace) -> int:
    url = configured_url(args.config)
    applied = [f"{m.version}: {m.name}" for m in _with_pool(url, upgrade)]
    where = display_url(url)
    if applied:
        print(f"upgraded {where} to schema version {LATEST}:")
        for line in applied:
            print(f"  applied {line}")
    else:
        print(f"{where} is up to date (schema version {LATEST})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    url = configured_url(args.config)
    version = _with_pool(url, schema_state).version
    state = "up to date" if version == LATEST else ("ahead of this ccr" if version > LATEST
                                                    else "behind: run `ccr db upgrade`")
    print(f"database: {display_url(url)}\nschema version: {version} (this ccr needs {LATEST}): {state}")
    return 0 if version == LATEST else 1
