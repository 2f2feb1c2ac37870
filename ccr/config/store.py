"""Saving the config file: atomic, backed up, safe against concurrent writers.

    store = ConfigStore(path)
    store.save({"Providers": [...], "Router": {...}})   # -> Path of the backup, or None

A save writes a temp file in the same directory, fsyncs it, renames it over the config and
fsyncs the directory, so a reader (or a crash) sees the old file or the new one, never a mix.
The previous file is first copied to `config.json.<ISO-ts>.bak` (claude-code-router's naming,
e.g. `config.json.2025-09-14T16-43-10-415Z.bak`) and only the newest `keep` backups stay.
Writers in this process take a lock; writers in other processes (`ccr model`) take an
advisory `flock` on `config.json.lock`.

The file is written as plain JSON with two-space indents. The first time ccr rewrites a file
it did not write itself (a hand-written JSON5 file with comments), that file is kept for good as
`config.json.original`; backups rotate, the original never does. A save whose content equals
what the file already says (comments and formatting aside) writes nothing and rotates nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import json5

try:
    import fcntl
except ImportError:  # Windows: the in-process lock and the atomic rename still hold
    fcntl = None  # type: ignore[assignment]

__all__ = ["ConfigStore", "backup_name", "original_name", "render"]


def render(raw: Mapping[str, Any]) -> str:
    """The text written for a config: JSON, two-space indents, non-ASCII kept readable."""
    return json.dumps(raw, indent=2, ensure_ascii=False) + "\n"


def original_name(config_name: str) -> str:
    """Where the user's own file is kept the first time ccr rewrites it."""
    return f"{config_name}.original"


def backup_name(config_name: str, now: datetime | None = None) -> str:
    """`config.json.2025-09-14T16-43-10-415Z.bak`: the ISO time with `:` and `.` made `-`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H-%M-%S-") + f"{moment.microsecond // 1000:03d}Z"
    return f"{config_name}.{stamp}.bak"


@dataclass
class ConfigStore:
    path: Path
    keep: int = 3
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def backups(self) -> list[Path]:
        """Existing backups, newest first."""
        prefix = self.path.name + "."
        found = [p for p in self.path.parent.glob(f"{glob_escape(prefix)}*.bak")
                 if p.name.startswith(prefix) and p.is_file() and not p.is_symlink()]
        return sorted(found, key=lambda p: _age_key(p, len(prefix)), reverse=True)

    @property
    def original(self) -> Path:
        return self.path.with_name(original_name(self.path.name))

    def save(self, raw: Mapping[str, Any], *, keep: int | None = None) -> Path | None:
        """Replace the config with `raw`; returns the backup of the previous file, if one was made
        (None too when nothing changed and nothing was written).

        `keep` (default: the store's) is how many backups stay: the new file's CONFIG_BACKUPS.
        Blocking (file I/O and fsync): call it from a thread in async code.
        """
        keep = self.keep if keep is None else keep
        text = render(raw)
        with self._lock, self._file_lock():
            previous = _read(self.path)
            if previous is not None and _same_content(previous, raw):
                return None
            if previous is not None and previous != text.encode("utf-8"):
                self._keep_original(previous)
            backup = self._backup(previous) if keep > 0 else None
            _atomic_write(self.path, text.encode("utf-8"), mode=_mode_of(self.path))
            self._prune(keep)
        return backup

    def _keep_original(self, previous: bytes) -> None:
        """A file ccr did not write (comments, its own layout) is kept once, never rotated."""
        if self.original.exists():
            return
        try:
            ours = render(json.loads(previous)).encode("utf-8") == previous
        except ValueError:
            ours = False
        if not ours:
            _atomic_write(self.original, previous, mode=0o600)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _backup(self, previous: bytes | None) -> Path | None:
        if previous is None:
            return None
        now = datetime.now(UTC)
        target = self.path.with_name(backup_name(self.path.name, now))
        counter = 1
        while target.exists():  # two saves within one millisecond
            target = self.path.with_name(backup_name(self.path.name, now)[:-4] + f"-{counter}.bak")
            counter += 1
        _atomic_write(target, previous, mode=0o600)
        return target

    def _prune(self, keep: int) -> None:
        for old in self.backups()[keep:]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _same_content(previous: bytes, raw: Mapping[str, Any]) -> bool:
    """The file already says `raw` (JSON5 comments and layout aside)."""
    try:
        text = previous.decode("utf-8")
        try:
            return bool(json.loads(text) == raw)
        except ValueError:
            return bool(json5.loads(text) == raw)  # slower; only for hand-written files
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False


def _age_key(path: Path, skip: int) -> tuple[str, int]:
    """Names sort by time; the modification time orders two backups of the same millisecond."""
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        mtime = 0
    stamp = path.name[skip: len(path.name) - len(".bak")]
    return stamp.split("Z", 1)[0], mtime


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _mode_of(path: Path) -> int:
    """Keep the config's permissions; a new config holds keys, so only its owner may read it."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o600


def _atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
