"""What several commands need: the home, the config a service uses, a client for it."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from ccr import admin_token
from ccr.cli import daemon
from ccr.config import Config, config_home, config_path, parse, read_raw
from ccr.config.guards import is_loopback
from ccr.service_record import connect_url

from ..client import ServiceClient

__all__ = ["CLIError", "home", "config_file", "read_config", "client", "ensure_service", "url_of",
           "admin_credential"]


class CLIError(Exception):
    """A failure to report as one line on stderr, with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def home() -> Path:
    return config_home().resolve()


def config_file(explicit: str | None, found: daemon.Probe | None = None) -> Path:
    """--config, else the file the running service loaded, else $CCR_CONFIG / the default."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    if found is not None and found.record is not None and found.record.config:
        return Path(found.record.config)
    return config_path().resolve()


def read_config(path: Path) -> Config:
    """The config for client-side use: a missing file means the defaults, and unset $VARs
    are tolerated (the service may have been started from a shell that has them)."""
    raw = read_raw(path) if path.exists() else {}
    return parse(raw, path=path if path.exists() else None, home=home(), env_must_resolve=False)


def url_of(found: daemon.Probe, config: Config) -> str:
    if found.record is not None:
        return found.record.url
    return connect_url(config.host, config.port)


def admin_credential(url: str, config: Config) -> str | None:
    """What the CLI sends to the management API: the local admin token to a ccr on this machine
    (the server accepts it whatever keys are set), else ADMIN_APIKEY (APIKEY when unset). The
    token never goes to another machine."""
    if is_loopback(urlsplit(url).hostname or ""):
        token = admin_token.read(home())
        if token:
            return token
    return config.access.admin_key


def client(found: daemon.Probe, config: Config) -> ServiceClient:
    url = url_of(found, config)
    return ServiceClient(url, apikey=admin_credential(url, config))


def ensure_service(config: str | None = None) -> daemon.Probe:
    """Start the service unless it runs; say so on stderr when this call started it."""
    found, started = daemon.start(home(), config=config)
    if started and found.record is not None:
        print(f"ccr: started the service at {found.record.url} (pid {found.pid}); "
              "it keeps running until `ccr stop`", file=sys.stderr, flush=True)
    return found
