"""The exposure archive (MongoDB): one document per served list, for training and online metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from lemo.exposures import Exposure
from lemo.stores.mongo import ensure_indexes, insert_new


class ExposureArchive:
    """Served lists as `lemo.exposures.Exposure` documents. The document id is tenant + request_id, so a
    redelivered record is a no-op; every read names the tenant."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._lists = db["exposures"]

    async def ensure_indexes(self) -> None:
        index = IndexModel([("tenant_id", ASCENDING), ("timestamp", DESCENDING)], name="tenant_time")
        by_user = IndexModel(
            [("tenant_id", ASCENDING), ("user_id", ASCENDING), ("timestamp", DESCENDING)], name="tenant_user_time"
        )
        await ensure_indexes(self._lists, [index, by_user])

    async def append_many(self, exposures: Sequence[Exposure]) -> list[Exposure]:
        """Stores the records in one command; returns those archived now for the first time (what experiment
        counters may count; the others were archived before)."""
        if not exposures:
            return []
        now = time.time()
        docs = [
            {**e.model_dump(mode="json"), "_id": f"{e.tenant_id}/{e.request_id}", "archived_at": now} for e in exposures
        ]
        existing = await insert_new(self._lists, docs)
        return [e for i, e in enumerate(exposures) if i not in existing]

    async def forget(self, exposures: Sequence[Exposure]) -> None:
        """Takes lists out again (by id, one at a time, as EventArchive.forget): a delivery that archived them but
        could not count them is redelivered, and must then find them new."""
        for e in exposures:
            await self._lists.delete_one({"_id": f"{e.tenant_id}/{e.request_id}"})

    async def recent_for_user(self, tenant_id: str, user_id: str, limit: int) -> list[Exposure]:
        """The lists served to the user, newest first (the operator console's "what they were shown")."""
        cursor = (
            self._lists.find({"tenant_id": tenant_id, "user_id": user_id}, projection={"_id": 0, "archived_at": 0})
            .sort("timestamp", DESCENDING)
            .limit(limit)
        )
        return [Exposure.model_validate(doc) async for doc in cursor]

    async def scan(self, tenant_id: str, since: float = 0.0, until: float | None = None) -> AsyncIterator[Exposure]:
        """The tenant's lists served in [since, until), in no particular order."""
        window: dict[str, float] = {"$gte": since}
        if until is not None:
            window["$lt"] = until
        cursor = self._lists.find(
            {"tenant_id": tenant_id, "timestamp": window}, projection={"_id": 0, "archived_at": 0}, batch_size=10_000
        )
        async for doc in cursor:
            yield Exposure.model_validate(doc)

    async def counts(self, tenant_id: str, since: float, until: float) -> list[dict[str, Any]]:
        """Lists and items shown per scenario and variant in [since, until): the denominators of CTR per variant."""
        totals: dict[tuple[str, str | None], list[int]] = {}
        async for exposure in self.scan(tenant_id, since, until):
            counted = totals.setdefault((exposure.scenario, exposure.variant), [0, 0])
            counted[0] += 1
            counted[1] += len(exposure.items)
        return [
            {"scenario": scenario, "variant": variant, "lists": lists, "items": items}
            for (scenario, variant), (lists, items) in sorted(totals.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ]
