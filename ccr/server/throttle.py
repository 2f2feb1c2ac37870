"""Failed authentication attempts, per client address: counted, logged (rate-limited) and
throttled.

    wait = throttle.failed(address, path)   # after a wrong or missing key
    if wait: -> 429 with Retry-After: wait  # else the usual 401

Each address has a token bucket of BURST wrong attempts refilled at PER_SECOND: at most
BURST + 5 * PER_SECOND (300) wrong keys are answered per address in 5 s; beyond that the
answer is 429 until the bucket refills. Only failures spend tokens: a request with the right
key is never looked up here, so a client that holds the key is never slowed, even from the
same address (all local clients share 127.0.0.1). IPv6 clients count per /64, the block one
host usually holds. The table is bounded (MAX_CLIENTS, least recently seen dropped first).

Each address gets at most one log line per LOG_EVERY seconds, naming it and how many attempts
failed since its last line, and all addresses together at most LOG_BURST lines per LOG_EVERY;
never the key that was sent.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

__all__ = ["AuthThrottle", "AUTH_THROTTLE", "client_address"]

log = structlog.get_logger("ccr.auth")


@dataclass(slots=True)
class _Client:
    tokens: float
    stamp: float
    unlogged: int = 0
    logged_at: float = -math.inf


def client_address(remote: str | None) -> str:
    """The throttling key of a peer: its IPv4 address, or its IPv6 /64."""
    if not remote:
        return "unknown"
    try:
        ip = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return remote[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class AuthThrottle:
    BURST = 100
    PER_SECOND = 40.0
    MAX_CLIENTS = 10_000
    LOG_EVERY = 10.0
    LOG_BURST = 20

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        self._log_tokens = float(self.LOG_BURST)
        self._log_stamp = clock()

    def __len__(self) -> int:
        return len(self._clients)

    def failed(self, remote: str | None, path: str) -> float | None:
        """Record one failed attempt; the seconds to wait when the address is over its budget."""
        now = self._clock()
        address = client_address(remote)
        client = self._clients.pop(address, None)
        if client is None:
            client = _Client(tokens=float(self.BURST), stamp=now)
            while len(self._clients) >= self.MAX_CLIENTS:
                self._clients.popitem(last=False)
        self._clients[address] = client  # most recently seen last
        client.tokens = min(float(self.BURST), client.tokens + (now - client.stamp) * self.PER_SECOND)
        client.stamp = now
        client.unlogged += 1
        self._log(address, client, path, now)
        if client.tokens >= 1:
            client.tokens -= 1
            return None
        return (1 - client.tokens) / self.PER_SECOND

    def _log(self, address: str, client: _Client, path: str, now: float) -> None:
        if now - client.logged_at < self.LOG_EVERY:
            return
        self._log_tokens = min(float(self.LOG_BURST),
                               self._log_tokens + (now - self._log_stamp) * self.LOG_BURST / self.LOG_EVERY)
        self._log_stamp = now
        if self._log_tokens < 1:
            return
        self._log_tokens -= 1
        log.warning("authentication failed", client=address, path=path, attempts=client.unlogged,
                    throttled=client.tokens < 1)
        client.logged_at, client.unlogged = now, 0


AUTH_THROTTLE: web.AppKey[AuthThrottle] = web.AppKey("auth_throttle", AuthThrottle)
