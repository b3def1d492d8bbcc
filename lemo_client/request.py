"""The request layer both clients share: what one API call is (`Call`), how it is built into an HTTP request
(keys, parameters, bodies), how an answer is read (JSON, or a typed exception from the error envelope), and which
failures are retried, how often and how long apart (`RetryPolicy`, run by tenacity).

What is safe to retry: a call is `safe` when sending it twice has the effect of sending it once: GET, PUT,
DELETE, the merge-PATCHes of this API, and the POSTs that carry their own idempotency key (events with
`event_id`s, which the client fills in; NDJSON upserts keyed by item or user id). A connection that was never
made (`ConnectError`, `ConnectTimeout`, `PoolTimeout`) and a 429 (refused before any work) are retried for every
call; a timeout after sending, or a 502/503/504, only for safe calls. A body streamed from an iterator cannot be
sent twice and is never retried.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from lemo_client.errors import ApiError, RateLimited, error_from_response

NDJSON = "application/x-ndjson"
DEFAULT_TIMEOUT_S = 60.0
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Call:
    """One API operation, independent of the client that sends it."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None  # a body that can be sent again (retries)
    stream: Iterable[bytes] | AsyncIterable[bytes] | None = None  # a body sent once, as it is read
    content_type: str | None = None
    admin: bool = False  # the admin key (X-Admin-Key) instead of the tenant's (X-API-Key)
    safe: bool = False  # sending it twice has the effect of sending it once


def call(method: str, path: str, *, safe: bool | None = None, **fields: Any) -> Call:
    """A Call; safe by default for the methods HTTP defines as idempotent."""
    if safe is None:
        safe = method in ("GET", "HEAD", "PUT", "DELETE")
    return Call(method, path, safe=safe, **fields)


@dataclass(frozen=True)
class RetryPolicy:
    """How failed calls are retried: up to `attempts` sends in all, waiting exponentially longer (with full
    jitter) between them from `initial_wait_s` up to `max_wait_s`, or as long as a Retry-After header says."""

    attempts: int = 5
    initial_wait_s: float = 0.25
    max_wait_s: float = 8.0
    statuses: frozenset[int] = field(default=frozenset({429, 502, 503, 504}))

    def retries(self, sent: Call, exc: BaseException) -> bool:
        if sent.stream is not None:
            return False
        if isinstance(exc, _NOT_SENT) or isinstance(exc, RateLimited):
            return True
        if isinstance(exc, httpx.TransportError):
            return sent.safe
        return isinstance(exc, ApiError) and exc.status_code in self.statuses and sent.safe

    def wait_s(self, attempt: int, exc: BaseException | None) -> float:
        if isinstance(exc, ApiError) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self.max_wait_s)
        return random.uniform(0, min(self.max_wait_s, self.initial_wait_s * 2 ** (attempt - 1)))


NO_RETRIES = RetryPolicy(attempts=1)


def _wait(policy: RetryPolicy) -> Any:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return policy.wait_s(state.attempt_number, exc)

    return wait


def retrying(policy: RetryPolicy, sent: Call, sleep: Any = None) -> Retrying:
    extra = {"sleep": sleep} if sleep else {}
    return Retrying(
        stop=stop_after_attempt(policy.attempts),
        retry=retry_if_exception(lambda exc: policy.retries(sent, exc)),
        wait=_wait(policy),
        reraise=True,
        **extra,
    )


def async_retrying(policy: RetryPolicy, sent: Call, sleep: Any = None) -> AsyncRetrying:
    extra = {"sleep": sleep} if sleep else {}
    return AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        retry=retry_if_exception(lambda exc: policy.retries(sent, exc)),
        wait=_wait(policy),
        reraise=True,
        **extra,
    )


@dataclass
class Keys:
    """The credentials a client sends: the tenant's API key, and the admin key for /v1/admin."""

    api_key: str | None = None
    admin_key: str | None = None

    def headers(self, sent: Call) -> dict[str, str]:
        if sent.admin:
            return {"X-Admin-Key": self.admin_key} if self.admin_key else {}
        return {"X-API-Key": self.api_key} if self.api_key else {}


def query(params: Mapping[str, Any] | None) -> dict[str, str | int | float]:
    """Query parameters without the unset ones; booleans as the API spells them."""
    out: dict[str, str | int | float] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def build(http: httpx.Client | httpx.AsyncClient, keys: Keys, sent: Call) -> httpx.Request:
    headers = keys.headers(sent)
    if sent.content_type:
        headers["Content-Type"] = sent.content_type
    body: dict[str, Any] = {}
    if sent.json is not None:
        body["content"] = json.dumps(sent.json, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
    elif sent.content is not None:
        body["content"] = sent.content
    elif sent.stream is not None:
        stream = sent.stream
        if isinstance(http, httpx.AsyncClient) and not isinstance(stream, AsyncIterable):
            stream = _async(stream)
        body["content"] = stream
    return http.build_request(sent.method, sent.path, params=query(sent.params), headers=headers, **body)


async def _async(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def decode(resp: httpx.Response) -> Any:
    """The answer's JSON (None for an empty answer, a 204); raises the typed ApiError of an error status."""
    if resp.status_code >= 400:
        raise error_from_response(resp)
    if resp.status_code == 204 or not resp.content:
        return None
    return resp.json()


def ndjson(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Rows as NDJSON, one JSON document per line."""
    return b"".join(ndjson_line(row) for row in rows)


def ndjson_line(row: Mapping[str, Any]) -> bytes:
    return (json.dumps(row, separators=(",", ":"), default=str) + "\n").encode()
