"""Reading the log folder for the management API: list, tail, clear. Blocking: run in a thread.

Files are addressed by *name* only. A name must be a plain file name (no separators, no NUL,
no leading dot) of a regular file directly in the log folder; symbolic links are refused, and
files are opened with O_NOFOLLOW and checked again after opening, so a link swapped in
between cannot redirect a read or a truncation.

`tail` reads backwards in 64 KiB blocks and stops as soon as it has the lines asked for, so a
50 MB log is never read into memory.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccr.errors import NotFoundError, RequestError

__all__ = ["list_files", "open_log", "tail", "clear", "line_filter", "TailResult", "BLOCK", "MAX_LINE"]

BLOCK = 64 * 1024
MAX_LINE = 256 * 1024  # longer lines are cut (their end is kept) so one huge line stays bounded
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
# structlog level names, plus pino's numbers (claude-code-router's own logs)
_RANK = {"trace": 5, "debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40,
         "exception": 40, "critical": 50, "fatal": 50}
_PINO = {10: 5, 20: 10, 30: 20, 40: 30, 50: 40, 60: 50}


def _valid_name(name: str) -> str:
    if not name or "\x00" in name or not _NAME.fullmatch(name) or name in (".", ".."):
        raise RequestError(f"file: {name[:80]!r} is not the name of a file in the log folder; "
                           "use a name from GET /api/logs/files")
    return name


def list_files(log_dir: Path) -> list[dict[str, Any]]:
    """`[{name, size, lastModified}]` of the regular *.log files, newest first."""
    try:
        entries = list(os.scandir(log_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    rows = []
    for entry in entries:
        if not entry.name.endswith(".log") or not _NAME.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        rows.append((info.st_mtime, entry.name, info.st_size))
    rows.sort(reverse=True)
    return [{"name": name, "size": size,
             "lastModified": datetime.fromtimestamp(mtime, UTC).isoformat(timespec="milliseconds")
             .replace("+00:00", "Z")} for mtime, name, size in rows]


def open_log(log_dir: Path, name: str, flags: int) -> int:
    """An fd of `log_dir/name`, which must be a regular file right in `log_dir`; else 400/404."""
    _valid_name(name)
    path = log_dir / name
    if path.parent.resolve() != log_dir.resolve():
        raise RequestError(f"file: {name!r} is not in the log folder")
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise NotFoundError(f"file: no log file named {name!r}; see GET /api/logs/files") from None
    if not stat.S_ISREG(info.st_mode):
        raise RequestError(f"file: {name!r} is not a regular log file (links and folders are refused)")
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise NotFoundError(f"file: no log file named {name!r}; see GET /api/logs/files") from None
    except OSError:
        raise RequestError(f"file: {name!r} cannot be opened as a log file") from None
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
        os.close(fd)
        raise RequestError(f"file: {name!r} changed while it was opened; try again")
    return fd


def clear(log_dir: Path, name: str | None) -> list[str]:
    """Empty one log file, or all of them; returns the names cleared."""
    if name is not None:
        fds = [open_log(log_dir, name, os.O_WRONLY)]
        names = [name]
    else:
        fds, names = [], []
        for row in list_files(log_dir):
            try:
                fds.append(open_log(log_dir, row["name"], os.O_WRONLY))
                names.append(row["name"])
            except (NotFoundError, RequestError):  # rotated away or swapped since the listing
                continue
    for fd in fds:
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)
    return names


def line_filter(level: str | None, text: str | None) -> Callable[[str], bool] | None:
    """A predicate for `tail`: lines at or above `level` (JSON lines) containing `text`."""
    if level is not None and level.lower() not in _RANK:
        raise RequestError(f"level: {level!r} is not one of debug, info, warn, error, fatal")
    minimum = _RANK[level.lower()] if level else None
    needle = text.lower() if text else None
    if minimum is None and needle is None:
        return None

    def accept(line: str) -> bool:
        if needle is not None and needle not in line.lower():
            return False
        if minimum is not None:
            return _rank_of(line) >= minimum
        return True

    return accept


def _rank_of(line: str) -> int:
    try:
        data = json.loads(line)
    except ValueError:
        return -1
    value = data.get("level") if isinstance(data, dict) else None
    if isinstance(value, str):
        return _RANK.get(value.lower(), -1)
    if isinstance(value, int) and not isinstance(value, bool):
        return _PINO.get(value, -1)
    return -1


@dataclass(frozen=True, slots=True)
class TailResult:
    lines: list[str]      # oldest first
    has_more: bool        # more matching lines before the first one returned
    scanned: int          # bytes read from the file


def tail(fd: int, lines: int, offset: int = 0, accept: Callable[[str], bool] | None = None) -> TailResult:
    """The last `lines` non-empty (matching) lines before the last `offset` ones."""
    size = os.fstat(fd).st_size
    pos = size
    carry = b""
    found: list[str] = []   # newest first
    skipped = 0
    scanned = 0

    def take(raw: bytes) -> bool:
        """Consider one line; True once we have one more than asked for."""
        nonlocal skipped
        if not raw.strip():
            return False
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if accept is not None and not accept(line):
            return False
        if skipped < offset:
            skipped += 1
            return False
        found.append(line)
        return len(found) > lines

    while pos > 0:
        size_now = min(BLOCK, pos)
        pos -= size_now
        block = os.pread(fd, size_now, pos)
        scanned += len(block)
        parts = block.split(b"\n")
        # a line too long already: keep its end only
        last = carry if len(carry) >= MAX_LINE else parts[-1] + carry
        if len(parts) == 1:
            carry = last[-MAX_LINE:] if len(last) > MAX_LINE else last
            continue
        if take(last[-MAX_LINE:]):
            break
        done = False
        for raw in reversed(parts[1:-1]):
            if take(raw):
                done = True
                break
        if done:
            break
        carry = parts[0]
    else:
        take(carry[-MAX_LINE:])
    has_more = len(found) > lines
    return TailResult(list(reversed(found[:lines])), has_more, scanned)
