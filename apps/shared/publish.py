"""Publishing through the sidecar's HTTP API, including bulk publish with per-entry results.

A message is a typed one (a pydantic model: the events topic's `lemo.events.Event`) or a plain dict. A model is
encoded by pydantic's core in one pass together with the request around it, never dumped to a dict and encoded
again; dicts are encoded as they always were (`json.dumps`, `default=str`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic_core import to_json

from apps.shared.sidecar import SidecarHttp

Data = TypeVar("Data", bound=dict[str, Any] | BaseModel)


@dataclass(frozen=True)
class Entry(Generic[Data]):
    entry_id: str
    data: Data
    metadata: dict[str, str] = field(default_factory=dict)


def _encoded(body: Any, typed: bool) -> bytes:
    return to_json(body) if typed else json.dumps(body, default=str).encode()


class Publisher:
    def __init__(self, http: SidecarHttp, pubsub: str) -> None:
        self._http = http  # based at the sidecar, e.g. http://127.0.0.1:3500
        self._pubsub = pubsub

    async def publish(
        self, topic: str, data: dict[str, Any] | BaseModel, metadata: dict[str, str] | None = None
    ) -> None:
        params = {f"metadata.{k}": v for k, v in (metadata or {}).items()}
        resp = await self._http.post(
            f"/v1.0/publish/{self._pubsub}/{topic}",
            content=_encoded(data, isinstance(data, BaseModel)),
            headers={"content-type": "application/json"},
            params=params,
        )
        resp.raise_for_status()

    async def publish_bulk(self, topic: str, entries: Sequence[Entry[Any]]) -> dict[str, str]:
        """Publishes all entries in one call; returns {entry_id: error} for those the broker did not take."""
        if not entries:
            return {}
        body = [
            {
                "entryId": e.entry_id,
                "event": e.data,
                "contentType": "application/json",
                "metadata": e.metadata,
            }
            for e in entries
        ]
        resp = await self._http.post(
            f"/v1.0-alpha1/publish/bulk/{self._pubsub}/{topic}",
            content=_encoded(body, any(isinstance(e.data, BaseModel) for e in entries)),
            headers={"content-type": "application/json"},
        )
        if resp.status_code == 204 or (resp.status_code == 200 and not resp.content):
            return {}
        failed = resp.json().get("failedEntries") or []
        if resp.status_code >= 400 and not failed:
            resp.raise_for_status()
        return {f["entryId"]: f.get("error", "publish failed") for f in failed}
