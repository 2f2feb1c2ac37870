"""Log files: a background writer thread and size/day rotation.

    files = LogFiles(log_dir, max_bytes=50 << 20, max_files=3)
    files.server("{...json...}")      # -> ccr-20250914164310.log
    files.routing("{...json...}")     # -> claude-code-router.log
    files.close()                     # flushes and joins the writer

Callers only put a rendered line on a queue, so a request handler never waits for the disk;
the writer thread drains the queue in batches, writes, flushes and rotates.

Server logs are named `ccr-<local YYYYMMDDHHmmss>[_N].log` like claude-code-router's: a new
file at every start, when the current one passes `max_bytes` and when the (local) day changes;
only the newest `max_files` stay. The routing log is always `claude-code-router.log`; when it
passes `max_bytes` it is renamed `claude-code-router.<stamp>.log` and likewise pruned.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, cast

__all__ = ["LogFiles", "RotatingFile", "SERVER_PREFIX", "ROUTING_NAME"]

SERVER_PREFIX = "ccr-"
ROUTING_NAME = "claude-code-router.log"
_STOP = object()
_BATCH = 512  # lines written per wake-up at most, so a flood cannot starve the flush

Clock = Callable[[], datetime]


class RotatingFile:
    """One logical log, spread over files that rotate by size and by day. Not thread-safe:
    only the writer thread touches it."""

    def __init__(self, directory: Path, *, stamped: bool, max_bytes: int, max_files: int,
                 clock: Clock = datetime.now, by_day: bool = True) -> None:
        self.directory = directory
        self.stamped = stamped
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.clock = clock
        self.by_day = by_day
        self._fh: IO[bytes] | None = None
        self._size = 0
        self._day: object = None
        self.path: Path | None = None

    def write(self, lines: list[str | bytes]) -> None:
        """Append `lines`, moving to a new file before one would pass max_bytes or a new day."""
        chunk = bytearray()
        for line in lines:
            data = line.encode("utf-8", "replace") if isinstance(line, str) else line
            if self._fh is not None:
                used = self._size + len(chunk)
                if (self.by_day and self.clock().date() != self._day) or (
                        used > 0 and used + len(data) > self.max_bytes):
                    self._write_out(chunk)
                    self.rotate()
            if self._fh is None:
                self._open()
            chunk += data
        self._write_out(chunk)

    def rotate(self) -> None:
        self._close()
        if not self.stamped and self.path is not None and self.path.exists():
            os.replace(self.path, self._fresh_name(f"{ROUTING_NAME[:-4]}.", ""))
        self._prune()

    def close(self) -> None:
        self._close()

    def _write_out(self, chunk: bytearray) -> None:
        if chunk and self._fh is not None:
            self._fh.write(chunk)
            self._fh.flush()
            self._size = self._fh.tell()  # the real end, even if the file was emptied meanwhile
            chunk.clear()

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = (self._fresh_name(SERVER_PREFIX, "_") if self.stamped
                     else self.directory / ROUTING_NAME)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        self._fh = os.fdopen(os.open(self.path, flags, 0o600), "ab")
        self._size = self._fh.tell()
        self._day = self.clock().date()
        self._prune()

    def _fresh_name(self, prefix: str, sep: str) -> Path:
        stamp = self.clock().strftime("%Y%m%d%H%M%S")
        candidate = self.directory / f"{prefix}{stamp}.log"
        n = 1
        while candidate.exists():
            candidate = self.directory / f"{prefix}{stamp}{sep or '_'}{n}.log"
            n += 1
        return candidate

    def _family(self) -> list[Path]:
        """This log's files, newest first (names carry the time; mtime breaks ties)."""
        if self.stamped:
            found = self.directory.glob(f"{SERVER_PREFIX}*.log")
        else:
            found = self.directory.glob(f"{ROUTING_NAME[:-4]}.*.log")
        files = [p for p in found if p.is_file() and not p.is_symlink()]

        def key(p: Path) -> tuple[float, str]:
            try:
                return p.stat().st_mtime, p.name
            except FileNotFoundError:
                return 0.0, p.name

        return sorted(files, key=key, reverse=True)

    def _prune(self) -> None:
        keep = self.max_files if self.stamped else max(0, self.max_files - 1)  # + the live file
        for old in self._family()[keep:]:
            if old != self.path:
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()

    def _close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None


class LogFiles:
    """The server log and the routing log, written by one daemon thread."""

    def __init__(self, directory: Path, *, max_bytes: int, max_files: int,
                 clock: Clock = datetime.now) -> None:
        self.directory = directory
        self._server = RotatingFile(directory, stamped=True, max_bytes=max_bytes,
                                    max_files=max_files, clock=clock)
        self._routing = RotatingFile(directory, stamped=False, max_bytes=max_bytes,
                                     max_files=max_files, clock=clock, by_day=False)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._failed = False
        self._thread = threading.Thread(target=self._run, name="ccr-log-writer", daemon=True)
        self._thread.start()

    def server(self, line: str | bytes) -> None:
        """Queue one line (ending in a newline) for the server log."""
        self._queue.put((self._server, line))

    def routing(self, line: str | bytes) -> None:
        self._queue.put((self._routing, line))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is on disk (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch: dict[RotatingFile, list[str | bytes]] = {}
            waiters: list[threading.Event] = []
            stop = False
            for count in range(_BATCH):
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    target, line = cast("tuple[RotatingFile, str | bytes]", item)
                    batch.setdefault(target, []).append(line)
                if count == _BATCH - 1:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._write(batch)
            for waiter in waiters:
                waiter.set()
            if stop:
                self._server.close()
                self._routing.close()
                return

    def _write(self, batch: dict[RotatingFile, list[str | bytes]]) -> None:
        for target, lines in batch.items():
            try:
                target.write(lines)
            except OSError as exc:  # full disk, removed folder: say so once, keep serving
                if not self._failed:
                    self._failed = True
                    print(f"ccr: cannot write logs in {self.directory}: {exc.strerror or exc}",
                          file=sys.stderr, flush=True)
                target.close()
