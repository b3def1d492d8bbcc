"""Opening a MongoDB database through PyMongo's async API, and the few helpers every repository shares (indexes one
at a time, lookups by id and inserts of new documents as cheaply as the server allows: FerretDB or MongoDB)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError


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
