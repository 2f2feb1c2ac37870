"""A throwaway PostgreSQL server for the tests: initdb into a temporary folder, on loopback.

PostgreSQL refuses to run as root, so under root (CI containers) the data folder belongs to
`nobody` and the server runs as that user. Missing binaries skip the tests only outside CI:
the test command installs Debian's `postgresql` when it is not there.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import free_port

__all__ = ["find_bindir", "running_postgres"]


def find_bindir() -> Path | None:
    env = os.environ.get("CCR_TEST_PG_BINDIR")
    if env:
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@contextlib.contextmanager
def running_postgres(bindir: Path) -> Iterator[str]:
    """Yield a postgresql:// URL to a fresh server (user `ccr`, no password, database `ccr`)."""
    root = Path(tempfile.mkdtemp(prefix="ccr-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"]
        os.chmod(root, 0o755)
        shutil.chown(root, "nobody")
    port = free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "ccr", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    log_file = open(root / "server.log", "wb")  # noqa: SIM115 (closed in finally)
    server = subprocess.Popen(
        [*as_user, str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
         "-k", str(root), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
         "-c", "max_connections=200"],
        stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        _wait_ready(port, server, root)
        subprocess.run([*as_user, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "ccr",
                        "ccr"], check=True, capture_output=True)
        yield f"postgresql://ccr@127.0.0.1:{port}/ccr"
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(port: int, server: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("postgres exited: " + (root / "server.log").read_text(errors="replace")[-2000:])
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            time.sleep(0.2)  # accepting TCP; give it a moment to finish recovery
            return
        time.sleep(0.1)
    raise RuntimeError("postgres did not start within 30 s")
