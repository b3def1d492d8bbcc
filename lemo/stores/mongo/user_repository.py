"""Users and their stored attributes. Every query carries tenant_id."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from lemo.stores.mongo.connection import ensure_indexes, find_by_ids, insert_new


class UserRepository:
    """Users; the document id is "<tenant_id>/<user_id>" (primary-key lookups, no cross-tenant addressing)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._users = db["users"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._users, [IndexModel([("tenant_id", ASCENDING), ("user_id", ASCENDING)], name="tenant_user")]
        )

    @staticmethod
    def _id(tenant_id: str, user_id: str) -> str:
        return f"{tenant_id}/{user_id}"

    async def upsert(self, tenant_id: str, user_id: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        """Creates the user or merges `attributes` into the ones it has."""
        now = time.time()
        update: dict[str, Any] = {
            "$setOnInsert": {"tenant_id": tenant_id, "user_id": user_id, "created_at": now},
            "$set": {"updated_at": now, "implicit": False},
        }
        for key, value in (attributes or {}).items():
            update["$set"][f"attributes.{key}"] = value
        if not attributes:
            update["$setOnInsert"]["attributes"] = {}
        doc = await self._users.find_one_and_update(
            {"_id": self._id(tenant_id, user_id)}, update, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        doc.pop("_id", None)
        return doc

    async def ensure(self, tenant_id: str, user_id: str) -> bool:
        """Creates a user first seen in an event (marked implicit); True when it was new."""
        now = time.time()
        doc = {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "attributes": {},
            "created_at": now,
            "updated_at": now,
            "implicit": True,
        }
        result = await self._users.update_one({"_id": self._id(tenant_id, user_id)}, {"$setOnInsert": doc}, upsert=True)
        return result.upserted_id is not None

    async def ensure_many(self, tenant_id: str, user_ids: Sequence[str]) -> int:
        """`ensure` for many users in one insert (the unique `_id` index turns away those that exist, with no read
        first); returns how many were created. A user that exists, implicit or not, is left as it is."""
        now = time.time()
        new = [
            {
                "_id": self._id(tenant_id, user_id),
                "tenant_id": tenant_id,
                "user_id": user_id,
                "attributes": {},
                "created_at": now,
                "updated_at": now,
                "implicit": True,
            }
            for user_id in dict.fromkeys(user_ids)
        ]
        if not new:
            return 0
        return len(new) - len(await insert_new(self._users, new))

    async def get(self, tenant_id: str, user_id: str) -> dict[str, Any] | None:
        return await self._users.find_one({"_id": self._id(tenant_id, user_id)}, projection={"_id": 0})

    async def get_many(self, tenant_id: str, user_ids: list[str]) -> list[dict[str, Any]]:
        ids = [self._id(tenant_id, u) for u in user_ids]
        return await find_by_ids(self._users, ids, {"_id": 0})

    async def delete(self, tenant_id: str, user_id: str) -> bool:
        result = await self._users.delete_one({"_id": self._id(tenant_id, user_id)})
        return result.deleted_count == 1

    async def ids(self, tenant_id: str, limit: int) -> list[str]:
        """Up to `limit` of the tenant's user ids, in no particular order (one read of the collection)."""
        cursor = self._users.find({"tenant_id": tenant_id}, projection={"_id": 0, "user_id": 1}).limit(limit)
        return [str(doc["user_id"]) async for doc in cursor]

    async def list(
        self, tenant_id: str, *, prefix: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """One page of users in user_id order, those whose id starts with `prefix` when given; pass the last
        user_id of a page as `after` for the next."""
        bounds: dict[str, Any] = {}
        if prefix:
            bounds["$regex"] = f"^{re.escape(prefix)}"
        if after is not None:
            bounds["$gt"] = after
        query: dict[str, Any] = {"tenant_id": tenant_id, **({"user_id": bounds} if bounds else {})}
        cursor = self._users.find(query, projection={"_id": 0}).sort("user_id", ASCENDING).limit(limit)
        return await cursor.to_list(length=limit)

    async def count(self, tenant_id: str, *, prefix: str | None = None) -> int:
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if prefix:
            query["user_id"] = {"$regex": f"^{re.escape(prefix)}"}
        return await self._users.count_documents(query)

    async def scan(self, tenant_id: str) -> AsyncIterator[dict[str, Any]]:
        """Every user of the tenant with its attributes (for training exports)."""
        cursor = self._users.find({"tenant_id": tenant_id}, projection={"_id": 0, "user_id": 1, "attributes": 1})
        async for doc in cursor:
            yield doc
