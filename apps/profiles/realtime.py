"""The realtime layer's helpers: item features for enrichment, and the batched windowed-popularity counter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Query

from actors.item_popularity import ACTOR_TYPE as HOT_ACTOR
from actors.item_popularity import SHARDS, ItemPopularityActorInterface, popularity_actor_id
from apps.shared.actor_client import actor_proxy
from lemo.events import Event, Identifier
from lemo.popularity import TYPE_WEIGHTS
from lemo.realtime.hot import bucket_of
from lemo.realtime.profile import interest_keys
from lemo.stores.mongo import ItemRepository

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/hot", tags=["realtime"])


class ItemFeatures:
    """Interest keys (categories, tags) per item, cached; the items-topic subscription keeps the cache current.

    An event for an item not in the catalog yet is still recorded (recent items, counts, popularity); it adds
    no category/tag interest. The unknown answer is cached briefly so such events cost no database read each.
    """

    UNKNOWN_TTL_S = 60.0

    def __init__(self, items: ItemRepository, capacity: int = 200_000) -> None:
        self._items = items
        self._cache: OrderedDict[str, tuple[list[str], float]] = OrderedDict()
        self._capacity = capacity

    async def keys(self, tenant_id: str, item_id: str) -> list[str]:
        return (await self.keys_many(tenant_id, [item_id]))[item_id]

    async def keys_many(self, tenant_id: str, item_ids: Iterable[str]) -> dict[str, list[str]]:
        """Interest keys of each item; those not cached are read in one query (a bulk delivery's worth at once:
        FerretDB answers every query by reading the collection, so one query per item cost a scan per event)."""
        found: dict[str, list[str]] = {}
        missing: list[str] = []
        now = time.monotonic()
        for item_id in dict.fromkeys(item_ids):
            key = f"{tenant_id}/{item_id}"
            hit = self._cache.get(key)
            if hit is not None and (hit[0] or hit[1] > now):
                self._cache.move_to_end(key)
                found[item_id] = hit[0]
            else:
                missing.append(item_id)
        if missing:
            docs = {d["item_id"]: d for d in await self._items.get_many(tenant_id, missing, ("categories", "tags"))}
            for item_id in missing:
                doc = docs.get(item_id)
                found[item_id] = self._keys_of(doc) if doc else []
                self._remember(f"{tenant_id}/{item_id}", found[item_id])
        return found

    def on_item_change(self, change: dict[str, Any]) -> None:
        item = change.get("item") or {}
        key = f"{item.get('tenant_id')}/{item.get('item_id')}"
        if change.get("op") == "delete":
            self._cache.pop(key, None)
        elif key in self._cache or change.get("op") == "upsert":
            self._remember(key, self._keys_of(item))

    def _remember(self, key: str, keys: list[str]) -> None:
        self._cache[key] = (keys, time.monotonic() + self.UNKNOWN_TTL_S)
        self._cache.move_to_end(key)
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)

    @staticmethod
    def _keys_of(item: dict[str, Any]) -> list[str]:
        return interest_keys(list(item.get("categories") or []), [str(t) for t in item.get("tags") or []])


class HotCounter:
    """Buffers popularity increments and flushes them once a second, one actor call per (tenant, shard),
    so the counters cost a few calls a second rather than one per event. Only events the user's actor took as
    new are counted, so redeliveries never count twice; a crash loses at most the last second's increments."""

    def __init__(self, flush_every_s: float = 1.0) -> None:
        self._flush_every_s = flush_every_s
        # actor id -> bucket start -> item -> weight
        self._pending: dict[str, dict[float, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        self._task: asyncio.Task[None] | None = None

    def count(self, event: Event) -> None:
        weight = TYPE_WEIGHTS.get(event.type, 0.0)
        if weight <= 0:
            return
        bucket = self._pending[popularity_actor_id(event.tenant_id, event.item_id)][bucket_of(event.timestamp)]
        bucket[event.item_id] = bucket.get(event.item_id, 0.0) + weight

    async def flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(lambda: defaultdict(dict))
        for actor_id, buckets in pending.items():
            proxy = actor_proxy(HOT_ACTOR, actor_id, ItemPopularityActorInterface)
            try:
                await proxy.AddCounts({"buckets": {str(int(b)): items for b, items in buckets.items()}})
            except Exception as exc:  # popularity is approximate: log and move on rather than block ingest
                logger.warning("popularity flush to %s failed: %s", actor_id, exc)

    def start(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self._flush_every_s)
                await self.flush()

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.flush()


async def hot_items(tenant_id: str, limit: int) -> list[dict[str, Any]]:
    """The tenant's hottest items over the last hour, merged from every shard."""
    shards = await asyncio.gather(
        *(
            actor_proxy(HOT_ACTOR, f"{tenant_id}:{s}", ItemPopularityActorInterface).GetHot({"limit": limit})
            for s in range(SHARDS)
        )
    )
    merged = [item for shard in shards for item in shard]
    return sorted(merged, key=lambda i: (-i["score"], i["item_id"]))[:limit]


@router.get("/{tenant_id}")
async def hot(tenant_id: Identifier, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """The tenant's windowed item popularity (the hot recall channel's source)."""
    return {"tenant_id": tenant_id, "items": await hot_items(tenant_id, limit)}
