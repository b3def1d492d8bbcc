"""Typed exceptions for the API's answers. Every 4xx and 5xx of the gateway carries one error envelope,
`{"error": {"code", "message", "details"?}}` (apps/shared/errors.py); `error_from_response` turns it into the
exception class of its status, keeping the code, message and details, so callers catch what they can handle:

    try:
        client.get_item("book-1")
    except NotFound:
        ...
"""

from __future__ import annotations

from typing import Any

import httpx


class LemoError(Exception):
    """Base of every error this client raises."""


class TransportFailure(LemoError):
    """No answer from the gateway (connection refused, reset, timed out), after the retries the call allowed."""

    def __init__(self, method: str, path: str, cause: httpx.TransportError) -> None:
        super().__init__(f"{method} {path}: {type(cause).__name__}: {cause}")
        self.method = method
        self.path = path


class ApiError(LemoError):
    """The gateway answered an error status. `code` is the envelope's machine-readable code (`item_not_found`,
    `invalid_request`, ...); `details` holds its extra fields (for `invalid_request`: `errors`, one per field)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        method: str = "",
        path: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{method} {path} -> {status_code} {code}: {message}".strip())
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}
        self.method = method
        self.path = path
        self.retry_after_s = retry_after_s


class BadRequest(ApiError):
    """400: the body is not valid JSON or NDJSON."""


class Unauthorized(ApiError):
    """401: no API key (or admin key), or one the gateway does not know."""


class Forbidden(ApiError):
    """403: the key lacks the scope (a read-only key writing, say)."""


class NotFound(ApiError):
    """404: no such item, user, scenario, run or tenant for this key's tenant."""


class Conflict(ApiError):
    """409: the thing exists already (a tenant, say)."""


class PayloadTooLarge(ApiError):
    """413: a batch over its limit (1,000 events), a body or an NDJSON line too large."""


class UnsupportedMediaType(ApiError):
    """415: a batch endpoint sent something other than NDJSON."""


class ValidationFailed(ApiError):
    """422: parameters or body do not match the schema; `details["errors"]` lists the fields."""


class RateLimited(ApiError):
    """429: over this key's request rate; `retry_after_s` says when a token is back (retried by default)."""


class ServerError(ApiError):
    """5xx: the gateway or a service behind it failed."""


class Unavailable(ServerError):
    """502, 503, 504: a service behind the gateway is down or slow; retried by default where the call is safe."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: not sent by this API; the backoff applies
        return None


def error_from_response(resp: httpx.Response) -> ApiError:
    """The typed exception for an error answer; a body without the envelope (a proxy's page, say) keeps its first
    300 characters as the message and `http_<status>` as the code."""
    code, message, details = f"http_{resp.status_code}", resp.text[:300], None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code", code))
        message = str(error.get("message", ""))
        details = error.get("details") if isinstance(error.get("details"), dict) else None
    cls = _BY_STATUS.get(resp.status_code, ServerError if resp.status_code >= 500 else ApiError)
    return cls(
        resp.status_code,
        code,
        message,
        details,
        method=resp.request.method,
        path=resp.request.url.path,
        retry_after_s=_retry_after(resp),
    )
