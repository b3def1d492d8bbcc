"""Publishing through the sidecar's HTTP API, including bulk publish with per-entry results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.shared.sidecar import SidecarHttp


@dataclass(frozen=True)
class Entry:
    entry_id: str
    data: dict[str, Any]
    metadata: dict[str, str] = field(default_factory=dict)


class Publisher:
    def __init__(self, http: SidecarHttp, pubsub: str) -> None:
        self._http = http  # based at the sidecar, e.g. http://127.0.0.1:3500
        self._pubsub = pubsub

    async def publish(self, topic: str, data: dict[str, Any], metadata: dict[str, str] | None = None) -> None:
        params = {f"metadata.{k}": v for k, v in (metadata or {}).items()}
        resp = await self._http.post(
            f"/v1.0/publish/{self._pubsub}/{topic}",
            content=json.dumps(data, default=str),
            headers={"content-type": "application/json"},
            params=params,
        )
        resp.raise_for_status()

    async def publish_bulk(self, topic: str, entries: Sequence[Entry]) -> dict[str, str]:
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
            content=json.dumps(body, default=str),
            headers={"content-type": "application/json"},
        )
        if resp.status_code == 204 or (resp.status_code == 200 and not resp.content):
            return {}
        failed = resp.json().get("failedEntries") or []
        if resp.status_code >= 400 and not failed:
            resp.raise_for_status()
        return {f["entryId"]: f.get("error", "publish failed") for f in failed}
