"""MongoDB adapters through PyMongo's async API. Every query carries tenant_id; no method can omit it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from lemo.events import Event
from lemo.popularity import Interaction


def open_database(uri: str, name: str) -> AsyncDatabase[dict[str, Any]]:
    """A database handle; the client connects lazily, so this never blocks or fails at start-up."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="lemo"
    )
    return client[name]


async def ensure_indexes(collection: AsyncCollection[dict[str, Any]], indexes: list[IndexModel]) -> None:
    """Creates indexes one command each: FerretDB 1.24 drops the connection when a single createIndexes
    command names several indexes that already exist (a second start-up), while one at a time is fine."""
    for index in indexes:
        await collection.create_indexes([index])


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
            ],
        )

    async def append(self, event: Event) -> bool:
        """Stores the event once; returns False when this tenant already archived that event_id."""
        doc = event.model_dump(mode="json")
        doc["_id"] = f"{event.tenant_id}/{event.event_id}"
        try:
            await self._events.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def interactions(self, tenant_id: str, since: float = 0.0) -> AsyncIterator[Interaction]:
        cursor = self._events.find(
            {"tenant_id": tenant_id, "timestamp": {"$gte": since}},
            projection={"_id": 0, "item_id": 1, "type": 1, "timestamp": 1},
        )
        async for doc in cursor:
            yield Interaction(item_id=doc["item_id"], type=doc["type"], timestamp=doc["timestamp"])

    async def tenants(self) -> list[str]:
        return sorted(await self._events.distinct("tenant_id"))

    async def purge_expired(self, now: float | None = None) -> int:
        cutoff = (now if now is not None else time.time()) - self._retention_s
        result = await self._events.delete_many({"timestamp": {"$lt": cutoff}})
        return result.deleted_count


class ItemRepository:
    """The catalog's items, one document per (tenant_id, item_id)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._items = db["items"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._items,
            [
                IndexModel(
                    [("tenant_id", ASCENDING), ("item_id", ASCENDING)], name="tenant_item", unique=True
                ),
                IndexModel([("tenant_id", ASCENDING), ("categories", ASCENDING)], name="tenant_category"),
                IndexModel([("tenant_id", ASCENDING), ("published_at", DESCENDING)], name="tenant_published"),
            ],
        )

    async def upsert(self, tenant_id: str, item_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        doc = await self._items.find_one_and_update(
            {"tenant_id": tenant_id, "item_id": item_id},
            {"$set": {**fields, "tenant_id": tenant_id, "item_id": item_id}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )  # no projection: FerretDB does not implement one on findAndModify
        assert doc is not None  # upsert always returns the document after the write
        doc.pop("_id", None)
        return doc

    async def get(self, tenant_id: str, item_id: str) -> dict[str, Any] | None:
        return await self._items.find_one({"tenant_id": tenant_id, "item_id": item_id}, projection={"_id": 0})

    async def delete(self, tenant_id: str, item_id: str) -> bool:
        result = await self._items.delete_one({"tenant_id": tenant_id, "item_id": item_id})
        return result.deleted_count == 1

    async def list(
        self, tenant_id: str, *, category: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """One page in item_id order; pass the last item_id of a page as `after` for the next."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if category is not None:
            query["categories"] = category
        if after is not None:
            query["item_id"] = {"$gt": after}
        cursor = self._items.find(query, projection={"_id": 0}).sort("item_id", ASCENDING).limit(limit)
        return await cursor.to_list(length=limit)
