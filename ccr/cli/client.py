"""A small blocking HTTP client for the CLI to talk to a running ccr (no event loop, no proxies).

    client = ServiceClient("http://127.0.0.1:3456", apikey="…")
    client.health()                                   # {"status": "ok", …} or None
    status, body = client.request("POST", "/api/config", {...})

The CLI only ever changes a running server's state through its HTTP API.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = ["ServiceClient", "ServiceUnreachable", "error_message"]


class ServiceUnreachable(Exception):
    """Nothing answered at the address (refused, reset or timed out)."""


# Always direct: a user's HTTP(S)_PROXY must not see (or break) calls to 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True, slots=True)
class ServiceClient:
    url: str
    apikey: str | None = None
    timeout: float = 10.0

    def request(self, method: str, path: str, body: Any = None,
                timeout: float | None = None) -> tuple[int, Any]:
        """(status, parsed JSON body or text); raises ServiceUnreachable when no server answers."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.apikey:
            headers["x-api-key"] = self.apikey
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(req, timeout=timeout or self.timeout) as resp:
                return resp.status, _parse(resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, _parse(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            raise ServiceUnreachable(f"{self.url}: {getattr(exc, 'reason', exc)}") from None

    def health(self, timeout: float = 2.0) -> dict[str, Any] | None:
        """GET /health: its JSON when ccr answers "ok", else None."""
        try:
            status, body = self.request("GET", "/health", timeout=timeout)
        except ServiceUnreachable:
            return None
        if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
            return body
        return None


def _parse(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def error_message(status: int, body: Any) -> str:
    """The message of an Anthropic-format error body (or whatever the server sent)."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("message"):
            return str(body["message"])
    text = str(body).strip() if body else ""
    return f"HTTP {status}" + (f": {text[:300]}" if text else "")
