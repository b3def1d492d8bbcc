"""The app's handle on its own Dapr sidecar: one async client per process, opened in the lifespan."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
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


def sidecar_http(timeout_s: float = 30.0) -> httpx.AsyncClient:
    """An HTTP client based at this app's own sidecar (DAPR_HTTP_PORT): invocation, publish, state.

    It sends the Dapr API token the sidecar requires, from DAPR_API_TOKEN as read by the Dapr SDK's settings, so
    this client and the SDK's clients always agree."""
    port = int(os.environ.get("DAPR_HTTP_PORT", "3500"))
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    token = dapr_settings.DAPR_API_TOKEN
    headers = {DAPR_API_TOKEN_HEADER: token} if token else {}
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=timeout_s, limits=limits, headers=headers)
