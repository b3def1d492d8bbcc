"""The exposure archive (MongoDB): one document per served list, for training and online metrics.

Lists are kept `retention_days` after they were served. Each document carries `expire_at` (a date: served time plus
the retention when it was archived) under a TTL index, so a MongoDB server deletes them itself; FerretDB has no TTL
index, and there the daily cleanup workflow's `purge_expired` (which also applies a retention shortened since) does
it, per tenant.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from lemo.exposures import Exposure
from lemo.stores.mongo import ensure_indexes, insert_new, is_ferretdb

# What a stored document holds beyond the record itself.
_RECORD = {"_id": 0, "archived_at": 0, "expire_at": 0}
# The latest date a TTL deadline is given (9999-12-31): a retention that long means "kept".
MAX_DATE = 253402300799.0


class ExposureArchive:
    """Served lists as `lemo.exposures.Exposure` documents. The document id is tenant + request_id, so a
    redelivered record is a no-op; every read names the tenant."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], retention_days: float) -> None:
        self._lists = db["exposures"]
        self._retention_s = retention_days * 86400

    async def ensure_indexes(self) -> None:
        index = IndexModel([("tenant_id", ASCENDING), ("timestamp", DESCENDING)], name="tenant_time")
        by_user = IndexModel(
            [("tenant_id", ASCENDING), ("user_id", ASCENDING), ("timestamp", DESCENDING)], name="tenant_user_time"
        )
        indexes = [index, by_user]
        if not await is_ferretdb(self._lists):  # FerretDB answers expireAfterSeconds with NotImplemented
            indexes.append(IndexModel([("expire_at", ASCENDING)], name="expire_at_ttl", expireAfterSeconds=0))
        await ensure_indexes(self._lists, indexes)

    def _expire_at(self, served_at: float) -> datetime:
        return datetime.fromtimestamp(min(served_at + self._retention_s, MAX_DATE), UTC)

    async def append_many(self, exposures: Sequence[Exposure]) -> list[Exposure]:
        """Stores the records in one command; returns those archived now for the first time (what experiment
        counters may count; the others were archived before)."""
        if not exposures:
            return []
        now = time.time()
        docs = [
            {
                **e.model_dump(mode="json"),
                "_id": f"{e.tenant_id}/{e.request_id}",
                "archived_at": now,
                "expire_at": self._expire_at(e.timestamp),
            }
            for e in exposures
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
            self._lists.find({"tenant_id": tenant_id, "user_id": user_id}, projection=_RECORD)
            .sort("timestamp", DESCENDING)
            .limit(limit)
        )
        return [Exposure.model_validate(doc) async for doc in cursor]

    async def scan(self, tenant_id: str, since: float = 0.0, until: float | None = None) -> AsyncIterator[Exposure]:
        """The tenant's lists served in [since, until), in no particular order."""
        window: dict[str, float] = {"$gte": since}
        if until is not None:
            window["$lt"] = until
        cursor = self._lists.find({"tenant_id": tenant_id, "timestamp": window}, projection=_RECORD, batch_size=10_000)
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

    async def tenants(self) -> list[str]:
        return sorted(await self._lists.distinct("tenant_id"))

    async def purge_expired(self, tenant_id: str, now: float | None = None) -> int:
        """Deletes the tenant's lists served longer ago than the retention period; returns how many (a cron job's
        query, on the tenant_time index where the server uses indexes)."""
        cutoff = (now if now is not None else time.time()) - self._retention_s
        result = await self._lists.delete_many({"tenant_id": tenant_id, "timestamp": {"$lt": cutoff}})
        return result.deleted_count
