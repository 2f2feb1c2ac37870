"""The request inspector: the last requests with the bodies the client sent, ccr sent on, and
the reply, for the UI's Inspector page. Off unless the config says `INSPECTOR: true`.

    inspector = Inspector()
    inspector.observe(exchange, settings, secrets)   # a RECORD_OBSERVERS callable, cheap
    inspector.summaries()                            # newest first, no bodies
    inspector.entry(7)                               # one, bodies redacted (call off the loop)

Bounded twice: at most INSPECTOR_MAX_REQUESTS entries and INSPECTOR_MAX_BYTES of bodies in
all (the oldest go first; a body larger than a third of the budget is cut). Observing only
appends bytes; redaction (known keys, secret-named fields, bearer tokens, sk- keys) happens
when an entry is read, so the request path pays nothing for it.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ccr.config.extras import InspectorSettings
from ccr.proxy.records import RecordedExchange, RequestRecord

__all__ = ["Inspector", "redact_text", "REDACTED"]

REDACTED = "[redacted]"
_SECRET_FIELD = re.compile(
    r"^(x-)?api[-_]?keys?$|^authorization$|^x-goog-api-key$|^(access|refresh|id|auth|bearer)?[-_]?token$"
    r"|secret|password|^credentials?$|^anthropic_(api_key|auth_token)$", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}", re.I)
_KEYLIKE = re.compile(r"\b(sk|pk|rk|key)-[A-Za-z0-9_-]{12,}")
_SUMMARY = ("request_id", "started_at", "front", "stream", "route_reason", "provider", "model", "status",
            "error", "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "fallback", "task_id")


@dataclass(slots=True)
class _Entry:
    id: int
    record: RequestRecord
    bodies: dict[str, bytes]
    truncated: bool

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.bodies.values())


@dataclass
class Inspector:
    _entries: deque[_Entry] = field(default_factory=deque)
    _bytes: int = 0
    _next: int = 1
    _secrets: tuple[str, ...] = ()

    def observe(self, exchange: RecordedExchange, settings: InspectorSettings, secrets: Iterable[str]) -> None:
        """Keep one exchange (its bodies as bytes), then drop the oldest beyond the bounds."""
        if not settings.enabled:
            return
        cap = max(1, settings.max_bytes // 3)
        raw = {"client_body": exchange.client_body, "provider_body": exchange.provider_body,
               "reply": exchange.reply}
        bodies = {name: (body or b"")[:cap] for name, body in raw.items()}
        truncated = exchange.reply_cut or any(len(body or b"") > cap for body in raw.values())
        entry = _Entry(self._next, exchange.record, bodies, truncated)
        self._next += 1
        self._secrets = tuple(secrets)
        self._entries.append(entry)
        self._bytes += entry.size
        while self._entries and (len(self._entries) > settings.max_requests or self._bytes > settings.max_bytes):
            self._bytes -= self._entries.popleft().size

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        self._bytes = 0
        return count

    @property
    def size(self) -> int:
        return self._bytes

    def summaries(self) -> list[dict[str, Any]]:
        """Newest first, no bodies."""
        return [_summary(e) for e in reversed(self._entries)]

    def entry(self, entry_id: int) -> dict[str, Any] | None:
        """One entry with its bodies as redacted text (JSON pretty-printed). Blocking: run in a thread."""
        found = next((e for e in self._entries if e.id == entry_id), None)
        if found is None:
            return None
        bodies = {name: redact_text(body.decode("utf-8", "replace"), self._secrets)
                  for name, body in found.bodies.items()}
        attempts = [{"provider": a.provider, "model": a.model, "status": a.status,
                     "error": redact_text(a.error, self._secrets) if a.error else None}
                    for a in found.record.attempts]
        return {**_summary(found), "attempts": attempts, "truncated": found.truncated, **bodies}


def _summary(entry: _Entry) -> dict[str, Any]:
    record = entry.record
    return {"id": entry.id, **{name: getattr(record, name) for name in _SUMMARY}, "bytes": entry.size}


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Secrets out of a body: known values, secret-named JSON fields, bearer tokens, sk- keys.
    A JSON body comes back pretty-printed."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict | list):
        text = json.dumps(_redact_fields(data), indent=2, ensure_ascii=False)
    return _KEYLIKE.sub(REDACTED, _BEARER.sub(r"\1" + REDACTED, text))


def _redact_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(v, str) and _SECRET_FIELD.search(str(k)) else _redact_fields(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_fields(v) for v in value]
    return value
