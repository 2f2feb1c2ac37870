"""Which ledger store a config means: PostgreSQL when it names a shared database, else SQLite."""

from __future__ import annotations

from collections.abc import Callable

from ccr.config import Config
from ccr.database.url import database_url

from .sqlite import FILENAME, SQLiteStore
from .store import Store

__all__ = ["store_opener"]


def store_opener(config: Config, *, readonly: bool = False) -> Callable[[], Store]:
    """A function that opens the store (called on the ledger's writer thread, or by `ccr usage`)."""
    url = database_url(config)
    if url is not None:
        from .postgres import PostgresStore  # psycopg only when a shared database is configured

        return lambda: PostgresStore(url)
    path = config.home / FILENAME
    return lambda: SQLiteStore(path, readonly=readonly)
