"""Logging: structlog, configured once per process by the CLI.

Every line passes `redact` first, so API keys and Authorization values never reach a log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure", "redact", "SECRET_KEYS"]

SECRET_KEYS = frozenset({"authorization", "x-api-key", "api_key", "api_keys", "apikey", "x-goog-api-key",
                         "anthropic_api_key", "anthropic_auth_token", "password", "secret", "token"})
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}", re.I)
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_-]{6})[A-Za-z0-9_-]{8,}")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _KEYLIKE.sub(r"\1…", _BEARER.sub(r"\1***", value))
    if isinstance(value, dict):
        return {k: ("***" if str(k).lower() in SECRET_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets by key name and by shape (bearer tokens, sk- keys)."""
    for key in list(event):
        if key.lower() in SECRET_KEYS:
            event[key] = "***"
        else:
            event[key] = _scrub(event[key])
    return event


_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL}


def configure(level: str = "info", *, stream: Any = None, json_lines: bool | None = None) -> None:
    """Console logging for a foreground process (JSON lines when not on a terminal)."""
    out = stream or sys.stderr
    as_json = json_lines if json_lines is not None else not out.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level.lower(), logging.INFO)),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
