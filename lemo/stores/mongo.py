"""MongoDB adapters through PyMongo's async API. Every query carries tenant_id; no method can omit it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from lemo.events import Event
from lemo.popularity import Interaction
from lemo.registry import ModelStatus, ModelVersion
from lemo.tenancy import ApiKey, Tenant


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


# FerretDB 1.24 over SQLite uses no index to find documents: an `_id` equality is filtered inside SQLite and stops
# at its match (7 ms for an early item, 104 ms for an id it does not hold, among 11,700 items), while `$in`, even
# of one id, decodes every document of the collection (600-900 ms). There, up to this many ids are looked up one
# query each, concurrently; more take the one scan. A MongoDB server answers `$in` from the index: one query.
_PER_ID_MAX = 8
_PER_ID_CONCURRENCY = 16
_scans_for_in: dict[int, bool] = {}


async def _in_is_a_scan(collection: AsyncCollection[dict[str, Any]]) -> bool:
    client = collection.database.client
    known = _scans_for_in.get(id(client))
    if known is None:
        info = await client.admin.command("buildInfo")
        known = _scans_for_in[id(client)] = "ferretdbVersion" in info
    return known


async def is_ferretdb(collection: AsyncCollection[dict[str, Any]]) -> bool:
    """Whether the server is FerretDB (no index lookups, no TTL indexes) rather than MongoDB; asked once per client."""
    return await _in_is_a_scan(collection)


async def find_by_ids(
    collection: AsyncCollection[dict[str, Any]], ids: Sequence[str], projection: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The documents among `ids` (absent ones are skipped), as cheaply as the server allows."""
    if not ids:
        return []
    if len(ids) <= _PER_ID_MAX and await _in_is_a_scan(collection):
        gate = asyncio.Semaphore(_PER_ID_CONCURRENCY)

        async def one(doc_id: str) -> dict[str, Any] | None:
            async with gate:
                return await collection.find_one({"_id": doc_id}, projection=dict(projection))

        return [d for d in await asyncio.gather(*(one(i) for i in ids)) if d is not None]
    return await collection.find({"_id": {"$in": list(ids)}}, projection=dict(projection)).to_list(length=len(ids))


async def insert_new(collection: AsyncCollection[dict[str, Any]], docs: Sequence[dict[str, Any]]) -> set[int]:
    """Inserts `docs` in one unordered command; returns the positions the unique `_id` index turned away (documents
    that exist already). Any other write error is raised."""
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return {int(e["index"]) for e in errors}
    return set()


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


class TenantAlreadyExists(Exception):
    pass


class TenantRepository:
    """Tenants and the hashes of their API keys (the platform's own data, not any tenant's)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._tenants = db["tenants"]
        self._keys = db["api_keys"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._keys, [IndexModel([("tenant_id", ASCENDING)], name="tenant")])

    async def create(self, tenant: Tenant) -> None:
        try:
            await self._tenants.insert_one({"_id": tenant.tenant_id, **tenant.model_dump()})
        except DuplicateKeyError as exc:
            raise TenantAlreadyExists(tenant.tenant_id) from exc

    async def get(self, tenant_id: str) -> Tenant | None:
        doc = await self._tenants.find_one({"_id": tenant_id})
        return Tenant.model_validate(doc) if doc else None

    async def all(self, limit: int) -> list[Tenant]:
        """Up to `limit` tenants in id order (the platform's own list, for the admin key only)."""
        cursor = self._tenants.find({}).sort("_id", ASCENDING).limit(limit)
        return [Tenant.model_validate(doc) async for doc in cursor]

    async def add_key(self, key: ApiKey) -> None:
        await self._keys.insert_one({"_id": key.key_id, **key.model_dump()})

    async def find_key(self, key_id: str) -> ApiKey | None:
        doc = await self._keys.find_one({"_id": key_id})
        return ApiKey.model_validate(doc) if doc else None

    async def keys(self, tenant_id: str) -> list[ApiKey]:
        return [ApiKey.model_validate(d) async for d in self._keys.find({"tenant_id": tenant_id})]

    async def revoke_key(self, tenant_id: str, key_id: str) -> bool:
        result = await self._keys.update_one({"_id": key_id, "tenant_id": tenant_id}, {"$set": {"revoked": True}})
        return result.matched_count == 1


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


class ModelRegistry:
    """Model versions per tenant and kind. A version's document id is "<tenant>/<kind>/<run_id>", so a retried
    registration of one run finds the version it already made; version numbers come from a per-(tenant, kind)
    counter that only a first registration advances."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._versions = db["model_versions"]
        self._counters = db["counters"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._versions,
            [IndexModel([("tenant_id", ASCENDING), ("kind", ASCENDING), ("version", DESCENDING)], name="tenant_kind")],
        )

    @staticmethod
    def _id(tenant_id: str, kind: str, run_id: str) -> str:
        return f"{tenant_id}/{kind}/{run_id}"

    @staticmethod
    def _model(doc: dict[str, Any]) -> ModelVersion:
        doc.pop("_id", None)
        return ModelVersion.model_validate(doc)

    async def register(self, candidate: ModelVersion) -> ModelVersion:
        """Stores a new version for (tenant, kind, run_id), or returns the one this run registered before."""
        _id = self._id(candidate.tenant_id, candidate.kind, candidate.run_id)
        existing = await self._versions.find_one({"_id": _id})
        if existing is not None:
            return self._model(existing)
        counter = await self._counters.find_one_and_update(
            {"_id": f"model_version/{candidate.tenant_id}/{candidate.kind}"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None  # an upsert with ReturnDocument.AFTER always returns the document
        version = candidate.model_copy(update={"version": int(counter["value"]), "status": ModelStatus.CANDIDATE})
        try:
            await self._versions.insert_one({"_id": _id, **version.model_dump(mode="json")})
        except DuplicateKeyError:  # a concurrent retry of the same registration won
            existing = await self._versions.find_one({"_id": _id})
            assert existing is not None
            return self._model(existing)
        return version

    async def versions(self, tenant_id: str, kind: str | None = None, limit: int = 100) -> list[ModelVersion]:
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if kind is not None:
            query["kind"] = kind
        cursor = self._versions.find(query).sort([("kind", ASCENDING), ("version", DESCENDING)]).limit(limit)
        return [self._model(doc) async for doc in cursor]

    async def get(self, tenant_id: str, kind: str, version: int) -> ModelVersion | None:
        doc = await self._versions.find_one({"tenant_id": tenant_id, "kind": kind, "version": version})
        return self._model(doc) if doc is not None else None

    async def for_run(self, tenant_id: str, run_id: str) -> list[ModelVersion]:
        cursor = self._versions.find({"tenant_id": tenant_id, "run_id": run_id}).sort("kind", ASCENDING)
        return [self._model(doc) async for doc in cursor]

    async def active(self, tenant_id: str, kind: str) -> ModelVersion | None:
        cursor = self._versions.find({"tenant_id": tenant_id, "kind": kind, "status": ModelStatus.ACTIVE.value})
        actives = [self._model(doc) async for doc in cursor]
        return max(actives, key=lambda v: v.activated_at or 0.0, default=None)

    async def activate(self, tenant_id: str, kind: str, version: int, now: float | None = None) -> ModelVersion | None:
        """Makes `version` the active one and archives the one it replaces; None when there is no such version
        or its artifact was pruned."""
        doc = await self._versions.find_one_and_update(
            {"tenant_id": tenant_id, "kind": kind, "version": version, "status": {"$ne": ModelStatus.PRUNED.value}},
            {"$set": {"status": ModelStatus.ACTIVE.value, "activated_at": now if now is not None else time.time()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        await self._versions.update_many(
            {"tenant_id": tenant_id, "kind": kind, "status": ModelStatus.ACTIVE.value, "version": {"$ne": version}},
            {"$set": {"status": ModelStatus.ARCHIVED.value}},
        )
        return self._model(doc)

    async def set_vectors(self, tenant_id: str, kind: str, version: int, vectors_uri: str) -> None:
        await self._versions.update_one(
            {"tenant_id": tenant_id, "kind": kind, "version": version}, {"$set": {"vectors_uri": vectors_uri}}
        )

    async def previous(self, tenant_id: str, kind: str) -> ModelVersion | None:
        """The version that was active before the current one (what a rollback returns to)."""
        cursor = self._versions.find(
            {"tenant_id": tenant_id, "kind": kind, "status": ModelStatus.ARCHIVED.value, "activated_at": {"$ne": None}}
        )
        archived = [self._model(doc) async for doc in cursor]
        return max(archived, key=lambda v: v.activated_at or 0.0, default=None)

    async def prune(self, tenant_id: str, kind: str, keep: int) -> list[ModelVersion]:
        """Marks archived and candidate versions beyond the newest `keep` of them as pruned and returns them,
        so their artifacts can be deleted. The active version is never pruned."""
        cursor = self._versions.find(
            {
                "tenant_id": tenant_id,
                "kind": kind,
                "status": {"$in": [ModelStatus.ARCHIVED.value, ModelStatus.CANDIDATE.value]},
            }
        ).sort("version", DESCENDING)
        stale = [self._model(doc) async for doc in cursor][keep:]
        for version in stale:
            await self._versions.update_one(
                {"_id": self._id(tenant_id, kind, version.run_id)}, {"$set": {"status": ModelStatus.PRUNED.value}}
            )
        return stale

    async def active_versions(self, limit: int = 1000) -> list[ModelVersion]:
        """Active versions of every tenant, most recently activated first: what a serving app warms up at start
        (a start-up concern, never a request's: requests read one tenant's versions only)."""
        cursor = self._versions.find({"status": ModelStatus.ACTIVE.value}).sort("activated_at", DESCENDING).limit(limit)
        return [self._model(doc) async for doc in cursor]

    async def kinds(self, tenant_id: str) -> list[str]:
        return sorted(await self._versions.distinct("kind", {"tenant_id": tenant_id}))


class ScenarioRepository:
    """Per-tenant scenario configurations (lemo.scenarios.Scenario), keyed "<tenant_id>/<scenario_id>"."""

    # The stored scenario without the store's own fields (Scenario forbids unknown ones).
    _SCENARIO_FIELDS: ClassVar[dict[str, Any]] = {"_id": 0, "tenant_id": 0, "updated_at": 0}

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._scenarios = db["scenarios"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._scenarios, [IndexModel([("tenant_id", ASCENDING)], name="tenant")])

    @staticmethod
    def _id(tenant_id: str, scenario_id: str) -> str:
        return f"{tenant_id}/{scenario_id}"

    async def put(self, tenant_id: str, scenario: dict[str, Any]) -> bool:
        """Creates or replaces a scenario; True when it was new."""
        doc = {**scenario, "tenant_id": tenant_id, "updated_at": time.time()}
        result = await self._scenarios.replace_one(
            {"_id": self._id(tenant_id, scenario["scenario_id"])}, doc, upsert=True
        )
        return result.upserted_id is not None

    async def get(self, tenant_id: str, scenario_id: str) -> dict[str, Any] | None:
        return await self._scenarios.find_one(
            {"_id": self._id(tenant_id, scenario_id)}, projection=self._SCENARIO_FIELDS
        )

    async def all(self, tenant_id: str) -> list[dict[str, Any]]:
        cursor = self._scenarios.find({"tenant_id": tenant_id}, projection=self._SCENARIO_FIELDS)
        return sorted([doc async for doc in cursor], key=lambda d: str(d["scenario_id"]))

    async def delete(self, tenant_id: str, scenario_id: str) -> bool:
        result = await self._scenarios.delete_one({"_id": self._id(tenant_id, scenario_id)})
        return result.deleted_count == 1
