"""The error tree, and the one place that turns an error into the Anthropic wire shape.

    CCRError                  anything ccr raises on purpose; carries status and error type
    ├── ConfigError           the config file is wrong (load, validate, save)
    ├── RequestError          the client sent something we cannot serve (400)
    ├── AuthError             missing or wrong API key (401), or a forbidden origin/host (403)
    ├── NotFoundError         unknown route, provider, model, task, log file (404)
    ├── RateLimitError        too many requests (429), may carry retry_after
    ├── UpstreamError         the provider answered with an error status, or could not be reached
    └── TransformError        a transformer (built in or a plugin) failed on this request

Messages reach users verbatim (Claude Code prints them), so they name the provider, model and
upstream status, and never carry a traceback, a file path of ours, or a key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

__all__ = [
    "CCRError",
    "ConfigError",
    "RequestError",
    "AuthError",
    "NotFoundError",
    "RateLimitError",
    "UpstreamError",
    "TransformError",
    "error_body",
    "error_type_for_status",
    "upstream_error",
    "redact",
]

# Anthropic's error type for each status it documents.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type_for_status(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


class CCRError(Exception):
    status: int = 500
    error_type: str = "api_error"

    def __init__(self, message: str, *, status: int | None = None,
                 error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
            self.error_type = error_type or error_type_for_status(status)
        elif error_type is not None:
            self.error_type = error_type

    def body(self) -> dict[str, Any]:
        return error_body(self.error_type, self.message)


class ConfigError(CCRError):
    """A config problem. `problems` lists every finding, each naming the key and the fix."""

    status = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or [message]
        super().__init__(message)


class RequestError(CCRError):
    status = 400
    error_type = "invalid_request_error"


class AuthError(CCRError):
    status = 401
    error_type = "authentication_error"


class NotFoundError(CCRError):
    status = 404
    error_type = "not_found_error"


class RateLimitError(CCRError):
    status = 429
    error_type = "rate_limit_error"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamError(CCRError):
    """The provider failed. The status we answer with mirrors the provider's where Anthropic has one."""

    def __init__(self, message: str, *, status: int = 502, upstream_status: int | None = None,
                 error_type: str | None = None, retry_after: str | None = None) -> None:
        super().__init__(message, status=status, error_type=error_type)
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class TransformError(CCRError):
    status = 500
    error_type = "api_error"


def _provider_message(text: str) -> str:
    """Pull the human message out of a provider's error body, whatever its shape."""
    text = text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:2000]
    if isinstance(data, list) and data:  # Gemini sometimes wraps the error in a list
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg") or err.get("detail")
            if isinstance(msg, str) and msg:
                return msg
        elif isinstance(err, str) and err:
            return err
        if isinstance(data.get("message"), str):
            return str(data["message"])
        if isinstance(data.get("detail"), str):
            return str(data["detail"])
    return text[:2000]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Blank out any of `secrets` in `text` (providers sometimes quote the key they refused)."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return text


def upstream_error(provider: str, model: str, status: int, body_text: str,
                   retry_after: str | None = None) -> UpstreamError:
    """Map a provider's error response to ours, keeping the provider's own message."""
    message = f"{provider},{model}: upstream returned {status}: {_provider_message(body_text)}"
    if status in (400, 404, 413, 422):
        ours = 400 if status == 422 else status
    elif status in (401, 403):
        # The provider rejected *our* credentials: the client's key was fine, so this is a
        # server-side problem, not a 401 that would make Claude Code ask the user to log in.
        ours = 502
        message += " (check the provider's api_key in the ccr config)"
    elif status == 429:
        ours = 429
    elif status in (503, 529):
        ours = 529
    elif status == 504 or status == 408:
        ours = 504
    elif status == 500:
        ours = 500
    else:
        ours = 502 if status >= 500 else 400
    return UpstreamError(message, status=ours, upstream_status=status,
                         error_type=error_type_for_status(ours), retry_after=retry_after)
