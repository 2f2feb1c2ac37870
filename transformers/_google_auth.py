"""Google service-account credentials -> OAuth access token (for the Vertex AI dialects).

The service-account JSON file (GOOGLE_APPLICATION_CREDENTIALS or the `credentials` option)
holds a private key. ccr signs a JWT with it (RS256) and exchanges it at the file's
`token_uri` for an access token, which is cached until shortly before it expires
(https://developers.google.com/identity/protocols/oauth2/service-account#httprest).
The token request goes out on the app's client session and through PROXY_URL, like the calls
to Vertex themselves.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ccr.errors import UpstreamError

__all__ = ["ServiceAccount", "TokenSource", "SCOPE"]

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_REFRESH_MARGIN = 300.0   # seconds before expiry at which a new token is fetched
_LIFETIME = 3600
_TIMEOUT = aiohttp.ClientTimeout(total=30)


@asynccontextmanager
async def _session(http: aiohttp.ClientSession | None) -> AsyncIterator[aiohttp.ClientSession]:
    """The caller's session; a one-off one only outside a server (a script, a REPL)."""
    if http is not None:
        yield http
        return
    async with aiohttp.ClientSession() as session:
        yield session


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    client_email: str
    private_key: rsa.RSAPrivateKey
    private_key_id: str
    token_uri: str
    project_id: str | None

    @classmethod
    def load(cls, path: str) -> ServiceAccount:
        """Read and check the file; ValueError names what is wrong (never the key)."""
        file = Path(path).expanduser()
        try:
            data = json.loads(file.read_text())
        except OSError as exc:
            raise ValueError(f"cannot read the service-account file {str(file)!r}: {exc.strerror}") from None
        except ValueError:
            raise ValueError(f"the service-account file {str(file)!r} is not JSON") from None
        if not isinstance(data, dict) or data.get("type") != "service_account":
            raise ValueError(f"{str(file)!r} is not a service-account key file "
                             '("type": "service_account"); create one in the Google Cloud console')
        missing = [k for k in ("client_email", "private_key", "token_uri") if not data.get(k)]
        if missing:
            raise ValueError(f"the service-account file {str(file)!r} lacks {', '.join(missing)}")
        try:
            key = serialization.load_pem_private_key(str(data["private_key"]).encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError(f"the private_key in {str(file)!r} is not a PEM RSA key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"the private_key in {str(file)!r} is not an RSA key")
        return cls(str(data["client_email"]), key, str(data.get("private_key_id") or ""),
                   str(data["token_uri"]), data.get("project_id"))

    def assertion(self, now: float) -> str:
        header = {"alg": "RS256", "typ": "JWT"}
        if self.private_key_id:
            header["kid"] = self.private_key_id
        claims = {"iss": self.client_email, "scope": SCOPE, "aud": self.token_uri,
                  "iat": int(now), "exp": int(now) + _LIFETIME}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


class TokenSource:
    """One cached access token per service account; concurrent callers share one fetch."""

    def __init__(self, account: ServiceAccount, clock: Callable[[], float] = time.time) -> None:
        self.account = account
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def token(self, http: aiohttp.ClientSession | None, proxy: str | None = None) -> str:
        """A valid access token, fetched with `http` (the app's session) through `proxy`."""
        if self._token and self._clock() < self._expires - _REFRESH_MARGIN:
            return self._token
        async with self._lock:
            if self._token and self._clock() < self._expires - _REFRESH_MARGIN:
                return self._token
            self._token, lifetime = await self._fetch(http, proxy)
            self._expires = self._clock() + lifetime
            return self._token

    async def _fetch(self, http: aiohttp.ClientSession | None, proxy: str | None) -> tuple[str, float]:
        now = self._clock()
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": self.account.assertion(now)}
        host = urlsplit(self.account.token_uri).netloc
        try:
            async with _session(http) as session, session.post(
                    self.account.token_uri, data=form, proxy=proxy, timeout=_TIMEOUT) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"Google token endpoint {host} cannot be reached: {type(exc).__name__}",
                                status=502) from None
        payload: Any
        try:
            payload = json.loads(text)
        except ValueError:
            payload = {}
        if status != 200 or not isinstance(payload, dict) or not payload.get("access_token"):
            detail = ""
            if isinstance(payload, dict):
                detail = str(payload.get("error_description") or payload.get("error") or "")
            raise UpstreamError(f"Google token endpoint {host} refused the service account "
                                f"{self.account.client_email}: HTTP {status} {detail}".rstrip(), status=502)
        return str(payload["access_token"]), float(payload.get("expires_in") or _LIFETIME)
