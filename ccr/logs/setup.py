"""Logging: structlog, JSON lines to rotating files in `$CCR_HOME/logs/`, and the console.

    logging_ = Logging(stream=sys.stderr)   # serve.py, once per process
    logging_.apply(config)                  # LOG, LOG_LEVEL, LOG_MAX_SIZE_MB, LOG_MAX_FILES
    ...                                     # POST /api/restart calls apply() again
    logging_.close()

Every line passes `redact` first, so API keys and Authorization values never reach a log.
Lines go to the server log `ccr-*.log`; each finished proxied request (the canonical `request`
line of ccr.messages) also goes, shortened, to the routing log `claude-code-router.log`.
The files are written by a background thread (ccr.logfiles), so logging on the request path
costs a JSON dump and a queue put.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is optional
    _orjson = None  # type: ignore[assignment]

from ccr.logs.files import LogFiles

if TYPE_CHECKING:
    from ccr.config import Config

__all__ = ["configure", "redact", "SECRET_KEYS", "Logging", "LOGGING", "level_number", "ROUTING_FIELDS",
           "config_secrets"]

SECRET_KEYS = frozenset({"authorization", "x-api-key", "api_key", "api_keys", "apikey", "x-goog-api-key",
                         "anthropic_api_key", "anthropic_auth_token", "password", "secret", "token"})
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}", re.I)
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_-]{6})[A-Za-z0-9_-]{8,}")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        # the regexes only when a secret could be there: most fields are short plain words
        if len(value) < 13 or ("sk-" not in value and "bearer" not in value.lower()):
            return value
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
           "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL,
           "critical": logging.CRITICAL, "exception": logging.ERROR}
#: What the routing log keeps of a request line.
ROUTING_FIELDS = ("timestamp", "request_id", "route", "reason", "stream", "status", "task_id")


class _KnownSecrets:
    """structlog processor: blank out the exact secret values of the config (APIKEY, provider
    keys) wherever they appear, whatever the field is called."""

    def __init__(self, secrets: Any = ()) -> None:
        values = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if self.pattern is not None:
            for key, value in list(event.items()):
                event[key] = self._scrub(value)
        return event

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.pattern.sub("***", value) if self.pattern is not None else value
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value


def config_secrets(config: Config) -> list[str]:
    """Every secret value a config holds, resolved: APIKEY, ADMIN_APIKEY and all provider keys."""
    values = [config.apikey or "", config.access.admin_key or ""]
    for provider in config.providers:
        values.extend(provider.api_keys)
    return [v for v in values if v]


def level_number(name: str) -> int:
    return _LEVELS.get(name.lower(), logging.INFO)


def _json_line(record: dict[str, Any]) -> bytes:
    """One JSON line; orjson (the `fast` extra) when installed, as this runs on every log call."""
    if _orjson is not None:
        try:
            return _orjson.dumps(record, default=str,
                                 option=_orjson.OPT_APPEND_NEWLINE | _orjson.OPT_NON_STR_KEYS)
        except TypeError:  # e.g. an integer too large for orjson
            pass
    return (json.dumps(record, default=str, ensure_ascii=False) + "\n").encode("utf-8", "replace")


class _Output:
    """structlog's final logger: receives the processed event dict and sends it on."""

    def __init__(self, name: str, console: Any, files: LogFiles | None) -> None:
        self.name, self.console, self.files = name, console, files

    def msg(self, **event: Any) -> None:
        if self.files is not None:
            record = {"timestamp": event.get("timestamp"), "level": event.get("level"),
                      "logger": self.name, **event}
            self.files.server(_json_line(record))
            if event.get("event") == "request" and self.name == "ccr.messages" and "route" in event:
                self.files.routing(_json_line({k: event[k] for k in ROUTING_FIELDS if k in event}))
        if self.console is not None:
            self.console(event)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _Console:
    def __init__(self, stream: Any, json_lines: bool | None) -> None:
        self.stream = stream
        as_json = json_lines if json_lines is not None else not _isatty(stream)
        self.renderer: Any = (structlog.processors.JSONRenderer() if as_json
                              else structlog.dev.ConsoleRenderer(colors=False))

    def __call__(self, event: dict[str, Any]) -> None:
        try:
            self.stream.write(self.renderer(None, "", dict(event)) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken console must not break a request
            pass


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def configure(level: str = "info", *, stream: Any = None, json_lines: bool | None = None,
              files: LogFiles | None = None, console: bool = True, secrets: Any = ()) -> None:
    """Configure structlog: the console (JSON lines when not on a terminal) and, if given, files.

    `secrets` are exact values to mask wherever they appear (see `config_secrets`).
    """
    out = _Console(stream or sys.stderr, json_lines) if console else None

    def factory(*args: Any) -> _Output:
        return _Output(str(args[0]) if args else "ccr", out, files)

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            _KnownSecrets(secrets),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_number(level)),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )


class _StdlibBridge(logging.Handler):
    """Warnings and errors from aiohttp and asyncio (stdlib logging) into the same logs."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            logger = structlog.get_logger(record.name)
            logger.log(record.levelno, record.getMessage(), exc_info=record.exc_info or False)
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


class Logging:
    """The process' log outputs, reconfigurable when the config changes."""

    def __init__(self, stream: Any = None, *, console: bool = True) -> None:
        self.stream = stream
        self.console = console
        self.files: LogFiles | None = None
        self._settings: tuple[Any, ...] | None = None
        self._bridge = _StdlibBridge(level=logging.WARNING)

    def apply(self, config: Config) -> None:
        """Log as `config` says; reopens the files only when their settings changed."""
        settings = (config.log, config.log_dir, config.log_max_bytes, config.log_max_files)
        old = None
        if settings != self._settings:
            old, self.files = self.files, None
            if config.log:
                self.files = LogFiles(config.log_dir, max_bytes=config.log_max_bytes,
                                      max_files=config.log_max_files)
            self._settings = settings
        configure(config.log_level, stream=self.stream, files=self.files, console=self.console,
                  secrets=config_secrets(config))
        if old is not None:  # after the switch, so no line goes to a closed writer
            old.close()
        root = logging.getLogger()
        if self._bridge not in root.handlers:
            root.addHandler(self._bridge)

    def flush(self) -> None:
        if self.files is not None:
            self.files.flush()

    def close(self) -> None:
        logging.getLogger().removeHandler(self._bridge)
        structlog.reset_defaults()
        if self.files is not None:
            self.files.close()
            self.files = None
        self._settings = None


#: The process' Logging, when the process configured one (serve.py); reload re-applies it.
LOGGING: web.AppKey[Logging] = web.AppKey("logging", Logging)
