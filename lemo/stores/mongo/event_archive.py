"""The events archive: every accepted event, for training, stats and the cleanup cron. Every query carries tenant_id."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from lemo.events import Event
from lemo.popularity import Interaction
from lemo.stores.mongo.connection import ensure_indexes, insert_new


class EventArchive:
    """Raw events kept for training. The document id is tenant + event_id, so a redelivery is a no-op."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], retention_days: float) -> None:
        self._events = db["events"]
        self._retention_s = retention_days * 86400

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._events,
            [
                IndexModel([("tenant_id", ASCENDING), ("timestamp", DESCENDING)], name="tenant_time"),
                IndexModel(
                    [("tenant_id", ASCENDING), ("user_id", ASCENDING), ("timestamp", DESCENDING)],
                    name="tenant_user_time",
                ),
                IndexModel([("tenant_id", ASCENDING), ("archived_at", ASCENDING)], name="tenant_archived"),
            ],
        )

    async def append(self, event: Event) -> bool:
        """Stores the event once; returns False when this tenant already archived that event_id."""
        doc = event.model_dump(mode="json")
        doc["_id"] = f"{event.tenant_id}/{event.event_id}"
        doc["archived_at"] = time.time()
        try:
            await self._events.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def append_many(self, events: Sequence[Event]) -> list[Event]:
        """Stores events in one command; ids already archived (redeliveries) are skipped, not errors. Returns the
        events archived now for the first time (what pre-aggregated counts may count)."""
        if not events:
            return []
        now = time.time()
        docs = [{**e.model_dump(mode="json"), "_id": f"{e.tenant_id}/{e.event_id}", "archived_at": now} for e in events]
        existing = await insert_new(self._events, docs)  # ids already archived are redeliveries
        return [e for i, e in enumerate(events) if i not in existing]

    async def forget(self, events: Sequence[Event]) -> None:
        """Takes events out again (by id, one at a time: FerretDB reads a whole collection for `$in`): a delivery
        that archived them but could not count them is redelivered, and must then find them new."""
        for e in events:
            await self._events.delete_one({"_id": f"{e.tenant_id}/{e.event_id}"})

    async def interactions(self, tenant_id: str, since: float = 0.0) -> AsyncIterator[Interaction]:
        cursor = self._events.find(
            {"tenant_id": tenant_id, "timestamp": {"$gte": since}},
            projection={"_id": 0, "item_id": 1, "type": 1, "timestamp": 1},
        )
        async for doc in cursor:
            yield Interaction(item_id=doc["item_id"], type=doc["type"], timestamp=doc["timestamp"])

    async def training_rows(self, tenant_id: str, archived_after: float | None = None) -> AsyncIterator[dict[str, Any]]:
        """The tenant's archived events with what training needs (event id, user, item, type, value, time and
        when it was archived): all of them, or those archived after `archived_after` (an incremental export)."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if archived_after is not None:
            query["archived_at"] = {"$gt": archived_after}
        fields = ("event_id", "user_id", "item_id", "type", "value", "timestamp", "archived_at")
        cursor = self._events.find(query, projection={"_id": 0, **dict.fromkeys(fields, 1)}, batch_size=10_000)
        async for doc in cursor:
            yield doc

    async def active_users(
        self, tenant_id: str, since: float, limit: int, exclude_types: Sequence[str] = ("impression",)
    ) -> list[str]:
        """Up to `limit` distinct users of the tenant with events at or after `since` (event time), most recently
        active first; `exclude_types` do not count (impressions: being shown a list is not acting). An indexed find
        (tenant_time) with a projection, read until `limit` users are found or 50 events per user wanted were
        scanned, rather than an aggregation, which FerretDB runs slowly on large archives."""
        query: dict[str, Any] = {"tenant_id": tenant_id, "timestamp": {"$gte": since}}
        if exclude_types:
            query["type"] = {"$nin": list(exclude_types)}
        cursor = (
            self._events.find(query, projection={"_id": 0, "user_id": 1})
            .sort("timestamp", DESCENDING)
            .limit(limit * 50)
            .batch_size(1000)
        )
        users: dict[str, None] = {}
        async for doc in cursor:
            users.setdefault(doc["user_id"], None)
            if len(users) >= limit:
                break
        await cursor.close()
        return list(users)

    async def tenants(self) -> list[str]:
        return sorted(await self._events.distinct("tenant_id"))

    async def recent_for_user(self, tenant_id: str, user_id: str, limit: int) -> list[dict[str, Any]]:
        """The user's latest `limit` archived events, newest first (event time; index tenant_user_time)."""
        cursor = (
            self._events.find({"tenant_id": tenant_id, "user_id": user_id}, projection={"_id": 0, "archived_at": 0})
            .sort("timestamp", DESCENDING)
            .limit(limit)
        )
        return await cursor.to_list(length=limit)

    async def purge_expired(self, tenant_id: str, now: float | None = None) -> int:
        """Deletes the tenant's events archived longer ago than the retention period; returns how many.

        Retention counts from archiving, not from the event's own time, so a backfill of old history (MovieLens
        ratings from 1998, say) is kept for the retention period like any other event."""
        cutoff = (now if now is not None else time.time()) - self._retention_s
        result = await self._events.delete_many(
            {
                "tenant_id": tenant_id,
                "$or": [
                    {"archived_at": {"$lt": cutoff}},
                    {"archived_at": {"$exists": False}, "timestamp": {"$lt": cutoff}},
                ],
            }
        )
        return result.deleted_count
