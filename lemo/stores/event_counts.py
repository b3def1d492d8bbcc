"""Event counts per tenant, type and calendar unit (MongoDB), as `lemo.event_counts` lays them out.

Every read and write is by `_id` (tenant first), the one lookup FerretDB answers from an index; a window reads at
most seven documents, concurrently, one `find_one` each (FerretDB answers `$in` by reading the whole collection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from lemo import event_counts
from lemo.events import Event


class EventCounts:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._counts = db["event_counts"]

    async def add(self, events: Sequence[Event]) -> None:
        """Counts these events once each: give it only events archived for the first time."""
        incs = event_counts.increments((e.tenant_id, e.type.value, e.timestamp) for e in events)
        if incs:
            ops = [UpdateOne({"_id": doc_id}, {"$inc": fields}, upsert=True) for doc_id, fields in incs.items()]
            await self._counts.bulk_write(ops, ordered=False)

    async def window(self, tenant_id: str, since: float, until: float) -> dict[str, int]:
        """Events per type with a timestamp in [since, until), at minute resolution."""
        cells = event_counts.window_cells(tenant_id, since, until)
        doc_ids = sorted({c.doc_id for c in cells})
        found = await asyncio.gather(*(self._counts.find_one({"_id": d}) for d in doc_ids))
        docs = {d: {k: v for k, v in doc.items() if k != "_id"} for d, doc in zip(doc_ids, found, strict=True) if doc}
        return event_counts.total(cells, docs)
