"""A connection pool for the shared database (asyncpg), with errors fit to show a user."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from ccr.errors import CCRError

from .url import display_url

__all__ = ["DatabaseError", "open_pool"]

CONNECT_TIMEOUT_S = 10.0


class DatabaseError(CCRError):
    """The shared database cannot be reached or is not ready (503 for API callers)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=503, error_type="api_error")


async def _init(conn: asyncpg.Connection) -> None:
    # jsonb columns in and out as Python values
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 8) -> asyncpg.Pool:
    """A pool of connections, or DatabaseError naming the address (never the password)."""
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init, timeout=CONNECT_TIMEOUT_S,
            command_timeout=60)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseError(f"cannot connect to the database at {display_url(url)}: {_reason(exc)}") from None
    return pool


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    text: Any = getattr(exc, "message", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__
