"""Task tokens every node accepts: an HMAC of the task id under a key kept in the shared database.

With one process, a task's CLI presents a random token the process remembers. With a shared
database the CLI a worker starts on one host may reach any router node, so the token proves
itself instead: `ccrtask_<task id>.<signature>`. It is good for model calls (/v1/messages)
only, never for the management or execution API, like the single-process token.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SignedTaskTokens", "PREFIX"]

PREFIX = "ccrtask_"


class SignedTaskTokens:
    """Issues and checks signed task tokens; accepts nothing until it has a key."""

    def __init__(self) -> None:
        self._key: bytes | None = None

    def use_key(self, key: str) -> None:
        self._key = key.encode()

    def _signature(self, task_id: str) -> str:
        assert self._key is not None
        return hmac.new(self._key, task_id.encode(), hashlib.sha256).hexdigest()

    def issue(self, task_id: str) -> str:
        return f"{PREFIX}{task_id}.{self._signature(task_id)}"

    def accepts(self, key: str) -> bool:
        if self._key is None or not key.startswith(PREFIX):
            return False
        task_id, _, signature = key[len(PREFIX):].rpartition(".")
        return bool(task_id) and hmac.compare_digest(signature.encode(), self._signature(task_id).encode())
