"""The app's handle on its own Dapr sidecar: one async client per process, opened in the lifespan."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError, DaprInternalError
from dapr.clients.grpc._state import Concurrency, StateOptions
from dapr.clients.http.conf import DAPR_API_TOKEN_HEADER
from dapr.conf import settings as dapr_settings
from grpc import StatusCode
from grpc.aio import AioRpcError


class ConcurrencyConflict(Exception):
    """A write carried an etag that no longer matches the stored value."""


class SidecarState:
    """Dapr state with optimistic concurrency: reads return the etag, writes may require it."""

    def __init__(self, client: DaprClient, store: str) -> None:
        self._client = client
        self._store = store

    async def get(self, key: str) -> tuple[Any | None, str | None]:
        resp = await self._client.get_state(self._store, key)
        if not resp.data:
            return None, None
        return json.loads(resp.data), resp.etag or None

    async def save(self, key: str, value: Any, etag: str | None = None, ttl_s: int | None = None) -> None:
        options = StateOptions(concurrency=Concurrency.first_write) if etag is not None else None
        metadata = {"ttlInSeconds": str(ttl_s)} if ttl_s else None
        try:
            await self._client.save_state(
                self._store, key, json.dumps(value), etag=etag, options=options, state_metadata=metadata or {}
            )
        except (DaprGrpcError, DaprInternalError, AioRpcError) as exc:
            if _is_etag_mismatch(exc):
                raise ConcurrencyConflict(key) from exc
            raise

    async def delete(self, key: str) -> None:
        await self._client.delete_state(self._store, key)


def _is_etag_mismatch(exc: Exception) -> bool:
    code = exc.code() if isinstance(exc, AioRpcError) else None
    return code == StatusCode.ABORTED or "etag mismatch" in str(exc).lower()


class SidecarUnreachable(Exception):
    """The sidecar could not be reached or did not answer in time (no HTTP status to speak of)."""


class SidecarStatusError(Exception):
    """`raise_for_status` on a 4xx/5xx answer."""

    def __init__(self, response: SidecarResponse) -> None:
        super().__init__(f"sidecar answered {response.status_code}: {response.text[:200]}")
        self.response = response


# What callers catch around a sidecar call: no answer, or an answer they turned into an error.
SidecarError = (SidecarUnreachable, SidecarStatusError)


@dataclass(frozen=True, slots=True)
class SidecarResponse:
    """A fully read answer: status, headers and body bytes."""

    status_code: int
    content: bytes
    headers: Mapping[str, str]

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise SidecarStatusError(self)


class SidecarHttp:
    """An HTTP client based at this app's own sidecar (DAPR_HTTP_PORT): invocation, publish, state.

    aiohttp over kept-alive connections: per call it costs about a fifth of the CPU httpx's AsyncClient did
    (0.3 against 1.5 ms on this machine), and the gateway makes several sidecar calls per request. The session is
    opened on first use, on the loop that uses it. It sends the Dapr API token the sidecar requires, from
    DAPR_API_TOKEN as read by the Dapr SDK's settings, so this client and the SDK's clients always agree."""

    def __init__(self, base_url: str, timeout_s: float, headers: Mapping[str, str], max_connections: int = 200):
        self._base_url = base_url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._headers = dict(headers)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=None)
            self._session = aiohttp.ClientSession(
                self._base_url, timeout=self._timeout, headers=self._headers, connector=connector
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | str | AsyncIterator[bytes] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SidecarResponse:
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        failed: list[BaseException] = []  # what a streamed body's own source raised (a client's body over a limit)
        data = _tracked(content, failed) if isinstance(content, AsyncIterator) else content
        try:
            async with self._open().request(
                method, url, json=json, data=data, params=query or None, headers=headers
            ) as resp:
                body = await resp.read()
                return SidecarResponse(resp.status, body, resp.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            if failed:
                raise failed[0] from exc
            raise SidecarUnreachable(f"{method} {url}: {exc.__class__.__name__} {exc}") from exc

    async def get(self, url: str, **kwargs: Any) -> SidecarResponse:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> SidecarResponse:
        return await self.request("POST", url, **kwargs)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> SidecarHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _tracked(chunks: AsyncIterator[bytes], failed: list[BaseException]) -> AsyncIterator[bytes]:
    """Passes a streamed body through, keeping the exception its source raised: aiohttp reports it as a broken
    upload, and the caller must see the source's own error (a 413 for a body over the limit), not a dead sidecar."""
    try:
        async for chunk in chunks:
            yield chunk
    except Exception as exc:
        failed.append(exc)
        raise


def _query_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def sidecar_http(timeout_s: float = 30.0) -> SidecarHttp:
    """The app's client for its own sidecar's HTTP API (DAPR_HTTP_PORT)."""
    port = int(os.environ.get("DAPR_HTTP_PORT", "3500"))
    token = dapr_settings.DAPR_API_TOKEN
    headers = {DAPR_API_TOKEN_HEADER: token} if token else {}
    return SidecarHttp(f"http://127.0.0.1:{port}", timeout_s, headers)
