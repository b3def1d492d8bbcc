"""Items of the catalog. Every query carries tenant_id."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from lemo.stores.mongo.connection import ensure_indexes, find_by_ids, insert_new


class ItemRepository:
    """The catalog's items. The document id is "<tenant_id>/<item_id>", so every lookup by id is a primary-key
    lookup, and no two tenants can ever address the same document."""

    # FerretDB runs a multi-statement update command very slowly, so batches insert the new items in one
    # command and update the existing ones one command each, a few at a time.
    _UPDATE_CONCURRENCY = 8
    _GET_MANY_CHUNK = 1000

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._items = db["items"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._items,
            [
                IndexModel([("tenant_id", ASCENDING), ("item_id", ASCENDING)], name="tenant_item"),
                IndexModel([("tenant_id", ASCENDING), ("categories", ASCENDING)], name="tenant_category"),
                IndexModel([("tenant_id", ASCENDING), ("tags", ASCENDING)], name="tenant_tag"),
                IndexModel([("tenant_id", ASCENDING), ("published_at", DESCENDING)], name="tenant_published"),
            ],
        )

    @staticmethod
    def _id(tenant_id: str, item_id: str) -> str:
        return f"{tenant_id}/{item_id}"

    @staticmethod
    def _public(doc: dict[str, Any] | None) -> dict[str, Any] | None:
        if doc is not None:
            doc.pop("_id", None)
        return doc

    async def create(self, tenant_id: str, item_id: str, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """Inserts a new item; None when this tenant already has one with that id."""
        doc = {**fields, "tenant_id": tenant_id, "item_id": item_id}
        try:
            await self._items.insert_one({"_id": self._id(tenant_id, item_id), **doc})
        except DuplicateKeyError:
            return None
        return doc

    async def upsert(self, tenant_id: str, item_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        doc = await self._items.find_one_and_update(
            {"_id": self._id(tenant_id, item_id)},
            {"$set": {**fields, "tenant_id": tenant_id, "item_id": item_id}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )  # no projection: FerretDB does not implement one on findAndModify
        public = self._public(doc)
        assert public is not None  # upsert always returns the document after the write
        return public

    async def update(self, tenant_id: str, item_id: str, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """Changes the given fields of an existing item; None when there is no such item."""
        doc = await self._items.find_one_and_update(
            {"_id": self._id(tenant_id, item_id)}, {"$set": dict(fields)}, return_document=ReturnDocument.AFTER
        )
        return self._public(doc)

    async def upsert_many(self, tenant_id: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
        """Upserts many items (the last one wins for a repeated id); returns how many were written."""
        latest = {item_id: fields for item_id, fields in items}
        if not latest:
            return 0
        # Insert first: the unique `_id` index turns away the items that exist (no read beforehand, which FerretDB
        # answers with a scan), and those are updated below.
        new = [{"_id": self._id(tenant_id, i), **f, "tenant_id": tenant_id, "item_id": i} for i, f in latest.items()]
        existing = {new[i]["_id"] for i in await insert_new(self._items, new)}
        gate = asyncio.Semaphore(self._UPDATE_CONCURRENCY)

        async def update(item_id: str, fields: Mapping[str, Any]) -> None:
            async with gate:
                await self._items.update_one({"_id": self._id(tenant_id, item_id)}, {"$set": dict(fields)})

        await asyncio.gather(*(update(i, f) for i, f in latest.items() if self._id(tenant_id, i) in existing))
        return len(latest)

    async def get(self, tenant_id: str, item_id: str) -> dict[str, Any] | None:
        return await self._items.find_one({"_id": self._id(tenant_id, item_id)}, projection={"_id": 0})

    async def get_many(
        self, tenant_id: str, item_ids: Sequence[str], fields: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The tenant's items among `item_ids` (unknown ids are absent), with item_id plus `fields` (all when None);
        primary-key lookups in chunks."""
        projection = {"_id": 0, "item_id": 1, **dict.fromkeys(fields, 1)} if fields is not None else {"_id": 0}
        found: list[dict[str, Any]] = []
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), self._GET_MANY_CHUNK):
            ids = [self._id(tenant_id, i) for i in unique[start : start + self._GET_MANY_CHUNK]]
            found += await find_by_ids(self._items, ids, projection)
        return found

    async def delete(self, tenant_id: str, item_id: str) -> bool:
        result = await self._items.delete_one({"_id": self._id(tenant_id, item_id)})
        return result.deleted_count == 1

    async def scan(self, tenant_id: str, fields: Sequence[str]) -> AsyncIterator[dict[str, Any]]:
        """Every item of the tenant with just `fields` (training exports, the serving apps' catalog views), in large
        cursor batches: fewer round trips, each of which FerretDB answers by reading the collection."""
        cursor = self._items.find(
            {"tenant_id": tenant_id}, projection={"_id": 0, **dict.fromkeys(fields, 1)}, batch_size=10_000
        )
        async for doc in cursor:
            yield doc

    async def delete_expired(self, tenant_id: str, now: datetime) -> int:
        """Deletes the tenant's items whose expires_at has passed; returns how many."""
        result = await self._items.delete_many({"tenant_id": tenant_id, "expires_at": {"$lt": now}})
        return result.deleted_count

    async def tenants(self) -> list[str]:
        return sorted(await self._items.distinct("tenant_id"))

    async def list(
        self,
        tenant_id: str,
        *,
        category: str | None = None,
        tag: str | None = None,
        hidden: bool | None = None,
        after: str | None = None,
        limit: int = 100,
        search: str | None = None,
    ) -> list[dict[str, Any]]:
        """One page in item_id order; pass the last item_id of a page as `after` for the next. `search` keeps the
        items whose id starts with it or whose title contains it (any case)."""
        query = self._filter(tenant_id, category, tag, hidden, search)
        if after is not None:
            query["item_id"] = {"$gt": after}
        cursor = self._items.find(query, projection={"_id": 0}).sort("item_id", ASCENDING).limit(limit)
        return await cursor.to_list(length=limit)

    async def count(
        self,
        tenant_id: str,
        *,
        category: str | None = None,
        tag: str | None = None,
        hidden: bool | None = None,
        search: str | None = None,
    ) -> int:
        """How many items `list` pages through with the same filters."""
        return await self._items.count_documents(self._filter(tenant_id, category, tag, hidden, search))

    @staticmethod
    def _filter(
        tenant_id: str, category: str | None, tag: str | None, hidden: bool | None, search: str | None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if category is not None:
            query["categories"] = category
        if tag is not None:
            query["tags"] = tag
        if hidden is not None:
            query["hidden"] = True if hidden else {"$ne": True}
        if search:
            literal = re.escape(search)
            query["$or"] = [
                {"item_id": {"$regex": f"^{literal}"}},
                {"title": {"$regex": literal, "$options": "i"}},
            ]
        return query
