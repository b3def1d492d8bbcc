"""Request limits at an app's edge: a body-size cap that counts streamed bytes, and per-caller token buckets.

Both are pure ASGI middleware, so a streamed body (NDJSON batches) passes through without being buffered, and both
answer with the one error shape (apps/shared/errors.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apps.shared.errors import error_body


class TokenBuckets:
    """One token bucket per key, in memory: `burst` tokens at most, refilled at `rate_per_s`; a request takes one.

    At most `max_keys` buckets are kept; the least recently used is dropped first, and a dropped key starts
    again with a full bucket (which an idle key would have had anyway).
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate_per_s must be > 0, burst and max_keys >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted); oldest use first

    def take(self, key: str) -> float:
        """Takes a token for `key`: 0.0 when granted, else the seconds until one will be there."""
        now = self._clock()
        last = self._buckets.pop(key, None)
        tokens = float(self.burst) if last is None else min(self.burst, last[0] + (now - last[1]) * self.rate_per_s)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate_per_s
        self._buckets[key] = (tokens, now)  # re-inserted: dict order is recency order
        while len(self._buckets) > self._max_keys:
            del self._buckets[next(iter(self._buckets))]
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(wait_s: float) -> str:
    """Retry-After takes whole seconds; round up so a client that waits that long finds a token."""
    return str(max(1, math.ceil(wait_s)))


def _too_large_message(limit: int) -> str:
    return f"the request body exceeds {limit} bytes"


def too_large(limit: int) -> HTTPException:
    # An HTTPException, not an ApiError: FastAPI re-raises HTTPExceptions met while reading a body, but turns any
    # other exception there into a 400. Its dict detail becomes the error body (apps/shared/errors.py).
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail={"code": "body_too_large", "message": _too_large_message(limit), "limit": limit},
    )


class BodySizeLimit:
    """413 for a request body over `max_bytes`: at once from Content-Length, else while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            body = error_body("body_too_large", _too_large_message(self._max_bytes), limit=self._max_bytes)
            await JSONResponse(body, status.HTTP_413_CONTENT_TOO_LARGE)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    raise too_large(self._max_bytes)
            return message

        await self._app(scope, counting_receive, send)


# Which bucket a request draws from; None: no bucket (an unauthenticated request, which auth will refuse).
Identify = Callable[[Scope], Awaitable[str | None]]


class RateLimit:
    """429 with Retry-After once a caller's bucket is empty."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, identify: Identify) -> None:
        self._app = app
        self._buckets = buckets
        self._identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            key = await self._identify(scope)
            wait = self._buckets.take(key) if key is not None else 0.0
            if wait > 0:
                body = error_body(
                    "rate_limited",
                    f"over {self._buckets.rate_per_s:g} requests/s (burst {self._buckets.burst}) for this key",
                    retry_after_s=round(wait, 3),
                )
                headers = {"Retry-After": retry_after_header(wait)}
                await JSONResponse(body, status.HTTP_429_TOO_MANY_REQUESTS, headers)(scope, receive, send)
                return
        await self._app(scope, receive, send)
