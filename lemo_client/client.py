"""A small client for the public HTTP API, used by the CLI's loaders. Retries what is safe to retry."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

NDJSON = "application/x-ndjson"


class ApiFailure(RuntimeError):
    def __init__(self, resp: httpx.Response) -> None:
        super().__init__(f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: {resp.text[:500]}")
        self.status_code = resp.status_code


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError) or (isinstance(exc, ApiFailure) and exc.status_code in (502, 503))


# Every call the loaders make is idempotent (upserts, events with fixed ids), so retrying is safe.
_retry = retry(
    retry=retry_if_exception(_transient),
    stop=stop_after_attempt(6),
    wait=wait_exponential(multiplier=0.5, max=10),
    reraise=True,
)


class LemoClient:
    def __init__(
        self, base_url: str, api_key: str | None = None, admin_key: str | None = None, timeout_s: float = 120.0
    ) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)
        self.api_key = api_key
        self._admin_key = admin_key

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LemoClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @_retry
    def _send(self, method: str, path: str, *, admin: bool = False, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if admin:
            headers["X-Admin-Key"] = self._admin_key or ""
        elif self.api_key:
            headers["X-API-Key"] = self.api_key
        resp = self._http.request(method, path, headers=headers, **kwargs)
        if resp.status_code >= 400 and resp.status_code != 409:
            raise ApiFailure(resp)
        return resp

    def ensure_tenant(self, tenant_id: str, name: str = "") -> str:
        """Creates the tenant if needed and returns a fresh read+write API key for it (admin key required)."""
        if not self._admin_key:
            raise RuntimeError("creating a tenant or key needs the admin key (LEMO_ADMIN_KEY)")
        resp = self._send("POST", "/v1/admin/tenants", admin=True, json={"tenant_id": tenant_id, "name": name})
        if resp.status_code == 409:
            resp = self._send("POST", f"/v1/admin/tenants/{tenant_id}/keys", admin=True, json={})
        self.api_key = str(resp.json()["api_key"])
        return self.api_key

    def upsert_items(self, items: Iterable[dict[str, Any]]) -> dict[str, Any]:
        return self._ndjson("/v1/items/batch", items)

    def upsert_users(self, users: Iterable[dict[str, Any]]) -> dict[str, Any]:
        return self._ndjson("/v1/users/batch", users)

    def track_batch(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self._send("POST", "/v1/events/batch", json={"events": events}).json())

    def _ndjson(self, path: str, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
        body = b"".join(_lines(rows))  # retried as a whole, so kept; loaders send a few thousand rows at a time
        return dict(self._send("POST", path, content=body, headers={"content-type": NDJSON}).json())


def _lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield (json.dumps(row, default=str) + "\n").encode()


class ModelsApi:
    """/v1/models through a LemoClient: training runs and model versions of the client's tenant."""

    def __init__(self, client: LemoClient) -> None:
        self._client = client

    def train(self, options: dict[str, Any]) -> str:
        return str(self._client._send("POST", "/v1/models/train", json=options).json()["run_id"])

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self._client._send("GET", f"/v1/models/runs/{run_id}").json())

    def versions(self, kind: str | None = None) -> dict[str, Any]:
        params = {"kind": kind} if kind else {}
        return dict(self._client._send("GET", "/v1/models", params=params).json())

    def activate(self, kind: str, version: int) -> dict[str, Any]:
        return dict(self._client._send("POST", f"/v1/models/{kind}/activate", json={"version": version}).json())

    def rollback(self, kind: str) -> dict[str, Any]:
        return dict(self._client._send("POST", f"/v1/models/{kind}/rollback").json())
