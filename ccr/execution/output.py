"""Write a run's `output_file` without following a link the agent made meanwhile.

    error = write_output(path, text, roots)    # None, or why nothing was written

The path was resolved and checked against the allowed roots before the run; the agent then ran
with write access to those roots and may have replaced the file, or a directory on its way,
with a symbolic link to anywhere. So at write time the path is walked again from the allowed
root it lies in, one component at a time with O_NOFOLLOW (a link anywhere below the root
fails the walk), and the file itself is opened O_NOFOLLOW and must be a regular file with one
link (a hard link to a file outside the roots would be written through).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["write_output"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)


def write_output(path: Path, text: str, roots: tuple[Path, ...]) -> str | None:
    """Write `text` to `path` (inside one of `roots`); a reason string when it was refused."""
    root = next((r for r in roots if path != r and path.is_relative_to(r)), None)
    if root is None:
        return "it is no longer inside the allowed roots"
    *dirs, name = path.relative_to(root).parts
    fds: list[int] = []
    try:
        try:
            fds.append(os.open(root, _DIR_FLAGS))
            for part in dirs:
                fds.append(os.open(part, _DIR_FLAGS, dir_fd=fds[-1]))
        except OSError:
            return "a directory on its path is missing or was replaced by a link"
        try:
            fd = os.open(name, _FILE_FLAGS, 0o644, dir_fd=fds[-1])
        except OSError as exc:
            return ("it was replaced by a link" if _is_link(name, fds[-1])
                    else f"it cannot be opened ({exc.strerror})")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            info = os.fstat(out.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                return "it is not a regular file of its own (a device, a pipe or a hard link)"
            out.truncate(0)
            out.write(text)
        return None
    except OSError as exc:
        return f"writing failed ({exc.strerror})"
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
