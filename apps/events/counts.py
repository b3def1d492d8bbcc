"""Event counts (lemo/event_counts.py) kept in the Dapr state store, through the events app's sidecar.

Each bucket document is one state key (`evcount:<tenant>|<level>|<unit>`, tenant first like every key here), so a
window is one bulk read of at most seven keys, whatever the window or the archive's size. A MongoDB collection was
tried first: FerretDB answers a `find_one` for a missing `_id` by reading the whole collection (50-100 ms per
window at 20,000 counted events, growing with them), and windows mostly name buckets that were never written.

The state API has no increment: a delivery's counts are read, added and written back in one transaction that
requires the etags read (first-write concurrency); another replica that wrote meanwhile makes it fail, and it is
read and tried again. One writer per process at a time, so retries happen only between replicas.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from apps.shared.sidecar import SidecarHttp
from lemo import event_counts
from lemo.events import Event

KEY_PREFIX = "evcount:"
ATTEMPTS = 8
_JSON = {"content-type": "application/json"}


class CountsUnavailable(RuntimeError):
    pass


class SidecarEventCounts:
    def __init__(self, http: SidecarHttp, store: str) -> None:
        self._http = http  # based at this app's sidecar
        self._store = store
        self._writing = asyncio.Lock()

    async def _read(self, doc_ids: Sequence[str]) -> dict[str, tuple[dict[str, dict[str, int]], str | None]]:
        body = json.dumps({"keys": [KEY_PREFIX + d for d in doc_ids], "parallelism": 8})
        resp = await self._http.post(f"/v1.0/state/{self._store}/bulk", content=body, headers=_JSON)
        if resp.status_code != 200:
            raise CountsUnavailable(f"state bulk read answered {resp.status_code}: {resp.text[:200]}")
        found = {}
        for item in resp.json():
            if item.get("data") is not None:
                found[item["key"][len(KEY_PREFIX) :]] = (item["data"], item.get("etag"))
        return found

    async def add(self, events: Sequence[Event]) -> None:
        """Counts these events once each: give it only events archived for the first time."""
        incs = event_counts.increments((e.tenant_id, e.type.value, e.timestamp) for e in events)
        if not incs:
            return
        async with self._writing:
            for _ in range(ATTEMPTS):
                current = await self._read(sorted(incs))
                operations = []
                for doc_id, fields in incs.items():
                    doc, etag = current.get(doc_id, ({}, None))
                    for path, n in fields.items():
                        unit, event_type = path.split(".", 1)
                        cell = doc.setdefault(unit, {})
                        cell[event_type] = int(cell.get(event_type, 0)) + n
                    request: dict[str, Any] = {
                        "key": KEY_PREFIX + doc_id,
                        "value": doc,
                        "options": {"concurrency": "first-write"},
                    }
                    if etag:
                        request["etag"] = etag
                    operations.append({"operation": "upsert", "request": request})
                resp = await self._http.post(
                    f"/v1.0/state/{self._store}/transaction",
                    content=json.dumps({"operations": operations}),
                    headers=_JSON,
                )
                if resp.status_code in (200, 204):
                    return
            raise CountsUnavailable(f"counts not written after {ATTEMPTS} tries: {resp.status_code} {resp.text[:200]}")

    async def window(self, tenant_id: str, since: float, until: float) -> dict[str, int]:
        """Events per type with a timestamp in [since, until), at minute resolution."""
        cells = event_counts.window_cells(tenant_id, since, until)
        doc_ids = sorted({c.doc_id for c in cells})
        found = await self._read(doc_ids) if doc_ids else {}
        return event_counts.total(cells, {d: doc for d, (doc, _) in found.items()})
