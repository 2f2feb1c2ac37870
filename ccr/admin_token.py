"""The local admin token: the management credential of a ccr that has no key configured.

    token = ensure(home)     # the server, at start: the file's token, or a new one written 0600
    token = read(home)       # the `ccr` command: the token, or None when there is none to trust

It lives in `$CCR_HOME/admin-token`, readable by its owner only (the way Jupyter keeps its
token). Whoever can read it can manage ccr; the `ccr` command and `ccr ui` send it, so a
user on this machine needs no key, while other local users and web pages get a 401. The
server accepts it whatever keys are configured. Delete the file to rotate it: the next start
writes a new one.

A leaf module (standard library only): the CLI imports it without importing the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import tempfile
from pathlib import Path

__all__ = ["FILE_NAME", "token_path", "read", "ensure"]

FILE_NAME = "admin-token"
_FORMAT = re.compile(r"^[A-Za-z0-9_-]{32,256}$")


def token_path(home: Path) -> Path:
    return Path(home) / FILE_NAME


def read(home: Path) -> str | None:
    """The token, if the file is ours, private and well-formed; anything else is not trusted
    (a token another user could have planted or read is no credential)."""
    path = token_path(home)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
                or info.st_mode & 0o077 or info.st_size > 1024):
            return None
        text = os.read(fd, 1024).decode("ascii", errors="replace").strip()
    finally:
        os.close(fd)
    return text if _FORMAT.match(text) else None


def ensure(home: Path) -> str:
    """The token in `home`, written (0600, atomically) when there is none to trust yet."""
    existing = read(home)
    if existing is not None:
        return existing
    token = "ccradm_" + secrets.token_urlsafe(32)
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=home)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(token + "\n")
        os.replace(tmp, token_path(home))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return token
