"""Vertex AI dialects: `vertex-gemini` (Gemini) and `vertex-claude` (Anthropic's models).

    "api_base_url": "https://us-central1-aiplatform.googleapis.com"     (or https://aiplatform.googleapis.com)
    options: {"project": "...", "location": "us-central1", "credentials": "/path/sa.json"}

URL: <base>/v1/projects/<project>/locations/<location>/publishers/<google|anthropic>/models/<model>:<action>
Auth: an OAuth token from the service-account file (see `_google_auth.py`); project defaults to
GOOGLE_CLOUD_PROJECT, then the file's project_id; location to GOOGLE_CLOUD_LOCATION, then
us-central1 (Gemini) or us-east5 (Claude). `vertex-claude` keeps the Anthropic request shape
(with `anthropic_version` in the body) and its replies pass through unchanged.
"""

from __future__ import annotations

import os
from typing import ClassVar

from ._google_auth import ServiceAccount, TokenSource
from .anthropic import admit_anthropic
from .base import Context, Json, Transformer, Upstream
from .gemini import Gemini

__all__ = ["VertexGemini", "VertexClaude", "vertex_url"]

_OPTIONS: Json = {
    "type": "object",
    "properties": {
        "project": {"type": "string", "description": "Google Cloud project (default GOOGLE_CLOUD_PROJECT, "
                                                     "then the service account's project_id)"},
        "location": {"type": "string", "description": "region, or global (default GOOGLE_CLOUD_LOCATION)"},
        "credentials": {"type": "string", "description": "service-account JSON file "
                                                         "(default GOOGLE_APPLICATION_CREDENTIALS)"},
    },
}


def vertex_url(base: str, project: str, location: str, publisher: str, model: str, action: str) -> str:
    root = base.split("?", 1)[0].rstrip("/")
    if not root.endswith(("/v1", "/v1beta1")):
        root += "/v1"
    return (f"{root}/projects/{project}/locations/{location}/publishers/{publisher}"
            f"/models/{model}:{action}")


class _Vertex:
    """Credentials, project and location, resolved once when the config loads."""

    default_location: ClassVar[str] = "us-central1"

    def _setup(self, name: str, project: str | None, location: str | None, credentials: str | None) -> None:
        path = credentials or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if not path:
            raise ValueError(f"{name} needs a service-account key: set GOOGLE_APPLICATION_CREDENTIALS "
                             'or the option "credentials" to the JSON file\'s path')
        account = ServiceAccount.load(path)
        resolved = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or account.project_id
        if not resolved:
            raise ValueError(f'{name} needs a project: set the option "project" or GOOGLE_CLOUD_PROJECT')
        self.project: str = resolved
        self.location = location or os.environ.get("GOOGLE_CLOUD_LOCATION") or self.default_location
        self.tokens = TokenSource(account)


class VertexGemini(_Vertex, Gemini):
    name: ClassVar[str] = "vertex-gemini"
    endpoint: ClassVar[str | None] = None
    options_schema: ClassVar[Json | None] = _OPTIONS

    def __init__(self, *, project: str | None = None, location: str | None = None,
                 credentials: str | None = None) -> None:
        self._setup(self.name, project, location, credentials)

    async def url(self, up: Upstream, ctx: Context, stream: bool) -> str:
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return vertex_url(up.url, self.project, self.location, "google", ctx.model, action)

    async def auth_headers(self, ctx: Context) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.tokens.token(ctx.http, ctx.proxy)}"}


class VertexClaude(_Vertex, Transformer):
    name: ClassVar[str] = "vertex-claude"
    dialect: ClassVar[bool] = True
    native: ClassVar[bool] = True   # Anthropic shape end to end, like the `anthropic` dialect
    default_location: ClassVar[str] = "us-east5"
    options_schema: ClassVar[Json | None] = _OPTIONS

    def __init__(self, *, project: str | None = None, location: str | None = None,
                 credentials: str | None = None) -> None:
        self._setup(self.name, project, location, credentials)

    def admit(self, body: Json, ctx: Context) -> Json:
        return admit_anthropic(body)

    async def request(self, up: Upstream, ctx: Context) -> Upstream:
        body = {k: v for k, v in up.body.items() if k != "model"}
        body["anthropic_version"] = "vertex-2023-10-16"
        body.setdefault("max_tokens", 4096)
        action = "streamRawPredict" if body.get("stream") else "rawPredict"
        url = vertex_url(up.url, self.project, self.location, "anthropic", ctx.model, action)
        headers = {k: v for k, v in up.headers.items()
                   if k.lower() not in ("authorization", "x-api-key", "anthropic-version")}
        headers["Authorization"] = f"Bearer {await self.tokens.token(ctx.http, ctx.proxy)}"
        return Upstream(url, body, headers)
