"""What became of the messages on a tenant's ingest topics: accepted/rejected counts and recent rejections with
their reasons (MongoDB). Every query carries tenant_id.

Rejections are the ingest dead letter: kept `retention_s` (a week by default) and at most `MAX_PER_DELIVERY` per
delivery, so a publisher flooding its topic with garbage cannot grow the store without bound (the counts still
count every one).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from lemo.ingest import IngestKind
from lemo.stores.mongo import ensure_indexes
from lemo.stores.ports import RejectedMessage

MAX_PER_DELIVERY = 100
TRIM_EVERY_S = 60.0


class IngestLog:
    """The ingest log (ports IngestRecorder, IngestReport)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], retention_s: float = 7 * 86400) -> None:
        self._errors = db["ingest_errors"]
        self._counts = db["ingest_counts"]
        self._retention_s = retention_s
        self._trimmed: dict[str, float] = {}
        self._accepted: dict[tuple[str, str], int] = {}

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._errors, [IndexModel([("tenant_id", ASCENDING), ("at", DESCENDING)], name="tenant_time")]
        )

    async def record(
        self, tenant_id: str, kind: IngestKind, topic: str, accepted: int, rejected: Sequence[RejectedMessage]
    ) -> None:
        """Counts one delivery's outcome and keeps its rejections. Accepted messages are only counted here, and
        written by `flush` (every second: a store write per small delivery would cost more than the delivery);
        rejections are written at once (two writes, whatever their number)."""
        if accepted:
            key = (tenant_id, kind.value)
            self._accepted[key] = self._accepted.get(key, 0) + accepted
        if not rejected:
            return
        now = time.time()
        await self._add(tenant_id, kind.value, 0, len(rejected))
        docs = [
            {
                "tenant_id": tenant_id,
                "kind": kind.value,
                "topic": topic,
                "at": now,
                "message_id": r.message_id,
                "error": r.rejection.as_dict(),
                "excerpt": r.excerpt,
            }
            for r in rejected[:MAX_PER_DELIVERY]
        ]
        await self._errors.insert_many(docs, ordered=False)
        if now - self._trimmed.get(tenant_id, 0.0) > TRIM_EVERY_S:
            self._trimmed[tenant_id] = now
            await self._errors.delete_many({"tenant_id": tenant_id, "at": {"$lt": now - self._retention_s}})

    async def flush(self) -> None:
        """Writes the accepted counts gathered since the last flush."""
        pending, self._accepted = self._accepted, {}
        for (tenant_id, kind), accepted in pending.items():
            try:
                await self._add(tenant_id, kind, accepted, 0)
            except Exception:
                self._accepted[(tenant_id, kind)] = self._accepted.get((tenant_id, kind), 0) + accepted
                raise

    async def _add(self, tenant_id: str, kind: str, accepted: int, rejected: int) -> None:
        await self._counts.update_one(
            {"_id": f"{tenant_id}/{kind}"},
            {"$inc": {"accepted": accepted, "rejected": rejected}, "$set": {"tenant_id": tenant_id, "at": time.time()}},
            upsert=True,
        )

    async def errors(self, tenant_id: str, limit: int = 100, kind: IngestKind | None = None) -> list[dict[str, Any]]:
        """The tenant's most recent rejections, newest first."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if kind is not None:
            query["kind"] = kind.value
        cursor = self._errors.find(query, {"_id": 0}).sort("at", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def counts(self, tenant_id: str) -> dict[str, dict[str, int]]:
        """{kind: {accepted, rejected}} since the tenant's first ingest message (accepted ones as last flushed)."""
        out = {k.value: {"accepted": 0, "rejected": 0} for k in IngestKind}
        for kind in IngestKind:
            doc = await self._counts.find_one({"_id": f"{tenant_id}/{kind.value}"})
            if doc is not None:
                out[kind.value] = {"accepted": int(doc.get("accepted", 0)), "rejected": int(doc.get("rejected", 0))}
        return out


async def tenant_ids(db: AsyncDatabase[dict[str, Any]]) -> list[str]:
    """Every tenant's id (the tenants collection of lemo.stores.mongo.TenantRepository): whose topics to consume."""
    return [str(doc["_id"]) async for doc in db["tenants"].find({}, {"_id": 1})]
