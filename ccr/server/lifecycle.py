"""How a running server stops, and comes back on a new address.

`ccr/server/serve.py` puts a `Lifecycle` on the app under `LIFECYCLE`. A handler that needs the process
to start over (the management API, when a saved config changes `HOST` or `PORT`) calls

    request.app[LIFECYCLE].relaunch()      # after its response: shutdown is graceful

The server then stops like on SIGTERM (streams get `SHUTDOWN_GRACE` seconds to finish) and:
- a daemon (started by `ccr start`) re-executes itself in place: same pid, same log, the config
  file read again, so it comes back on the new HOST/PORT and rewrites its service record;
- a foreground process (`ccr start --foreground`) exits with `EXIT_RELAUNCH` (75) and says so,
  for its supervisor (systemd `Restart=on-failure`, a container restart policy) to start it again.

Apps built without `serve` (tests with aiohttp's TestServer) have no LIFECYCLE:
use `request.app.get(LIFECYCLE)`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field

from aiohttp import web

from ccr import __version__
from ccr.config import config_home
from ccr.service_record import (
    DAEMON_FLAG,
    ServiceRecord,
    connect_url,
    publish,
    withdraw,
)

from .keys import STATE

__all__ = ["Lifecycle", "LIFECYCLE", "EXIT_RELAUNCH", "DAEMON_FLAG", "publish_service", "withdraw_service"]

EXIT_RELAUNCH = 75  # EX_TEMPFAIL: "try again", what supervisors restart on


@dataclass(slots=True)
class Lifecycle:
    daemon: bool = False
    config_file: str | None = None  # the --config the process was started with
    record: bool = True             # write the pid file and service record in $CCR_HOME
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    relaunch_requested: bool = False

    def shutdown(self) -> None:
        """Stop serving (what SIGTERM does)."""
        self.stop.set()

    def relaunch(self) -> None:
        """Stop serving, then start over with the config file read again."""
        self.relaunch_requested = True
        self.stop.set()

    def relaunch_argv(self) -> list[str]:
        """The daemon's command line again, without --host/--port: the config's address wins now."""
        argv = [sys.executable, "-m", "ccr", "start", "--foreground", DAEMON_FLAG]
        if self.config_file:
            argv += ["--config", self.config_file]
        return argv

    def finish(self, url: str) -> int:
        """After a requested relaunch has shut the server down: re-exec (daemon) or exit."""
        if self.daemon:
            print(f"ccr: relaunching to apply the new address (was {url})", flush=True)
            sys.stdout.flush()
            sys.stderr.flush()
            argv = self.relaunch_argv()
            os.execv(argv[0], argv)
        print(f"ccr: the config now needs a new address (was {url}); exiting with status "
              f"{EXIT_RELAUNCH} so that ccr is started again", file=sys.stderr, flush=True)
        return EXIT_RELAUNCH


LIFECYCLE: web.AppKey[Lifecycle] = web.AppKey("lifecycle", Lifecycle)


def publish_service(app: web.Application, host: str, port: int) -> None:
    """Once listening: write the pid file and service record in $CCR_HOME (one service per home)."""
    lifecycle = app.get(LIFECYCLE) or Lifecycle()
    if not lifecycle.record:
        return
    state = app[STATE]
    publish(config_home(), ServiceRecord(
        pid=os.getpid(), host=host, port=port, url=connect_url(host, port),
        config=str(state.config_path.resolve()) if state.config_path else "",
        started=state.started, version=__version__, daemon=lifecycle.daemon))


def withdraw_service(app: web.Application) -> None:
    """On exit: remove the files, unless this daemon is about to re-execute itself."""
    lifecycle = app.get(LIFECYCLE) or Lifecycle()
    if lifecycle.record and not (lifecycle.daemon and lifecycle.relaunch_requested):
        withdraw(config_home(), os.getpid())
