"""Where the shared database is, and how to show its address without the password."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from ccr.config import Config
from ccr.errors import ConfigError

__all__ = ["database_url", "display_url", "ENV_VAR"]

ENV_VAR = "CCR_DATABASE_URL"
_SCHEMES = ("postgres", "postgresql")


def database_url(config: Config) -> str | None:
    """`DATABASE_URL` from the config (after $VAR interpolation), else `$CCR_DATABASE_URL`.

    None means the embedded default: SQLite under $CCR_HOME.
    """
    value = config.data.get("DATABASE_URL")
    if value is None or value == "":
        value = os.environ.get(ENV_VAR) or None
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"DATABASE_URL: expected a postgresql:// URL, got {type(value).__name__}")
    scheme = urlsplit(value).scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigError(f"DATABASE_URL: expected a postgresql:// URL, got a {scheme or 'schemeless'} "
                          f"address ({display_url(value)})")
    return value


def display_url(url: str) -> str:
    """The URL with any password replaced by `***` (for logs, errors and `ccr status`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}{port}", parts.path, parts.query, parts.fragment))
