"""The realtime layer's helpers: item features for enrichment, and the batched windowed-popularity counter (its
read side is the /hot route, apps/profiles/hot.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from actors.item_popularity import ACTOR_TYPE as HOT_ACTOR
from actors.item_popularity import ItemPopularityActorInterface, popularity_actor_id
from apps.shared.actor_client import actor_proxy
from apps.shared.snapshots import TenantSnapshots
from lemo.events import Event
from lemo.popularity import TYPE_WEIGHTS
from lemo.realtime.hot import bucket_of
from lemo.realtime.profile import interest_keys
from lemo.stores.ports import ItemScan

logger = logging.getLogger(__name__)

ItemFields = tuple[list[str], list[str]]  # (categories, tags)


class ItemFeatures:
    """Interest keys (categories, tags) per item, from a per-tenant snapshot of the catalog held in memory.

    The snapshot is read on the tenant's first event and kept current as `TenantSnapshots` describes; the
    items-topic subscription hands each change to `on_item_change`. Events never wait on a per-item lookup:
    FerretDB answers any lookup, by `_id` too, by reading the collection (100 ms for an id it does not hold among
    11,700 items), which made item lookups most of an event's CPU.
    An event for an item not in the catalog is still recorded (recent items, counts, popularity); it adds no
    category/tag interest.
    """

    def __init__(self, items: ItemScan, refresh_s: float = 600.0) -> None:
        self._items = items
        self._snapshots: TenantSnapshots[dict[str, ItemFields]] = TenantSnapshots(
            "item features", self._read, _apply, len, refresh_s
        )

    async def keys_many(self, tenant_id: str, item_ids: Iterable[str]) -> dict[str, list[str]]:
        """Interest keys of each item (empty for an item the catalog does not hold)."""
        snapshot = await self._snapshots.get(tenant_id)
        found: dict[str, list[str]] = {}
        for item_id in item_ids:
            held = snapshot.get(item_id)
            found[item_id] = interest_keys(held[0], held[1]) if held else []
        return found

    def on_item_change(self, change: Mapping[str, Any]) -> None:
        tenant_id = (change.get("item") or {}).get("tenant_id")
        if tenant_id is not None:
            self._snapshots.on_change(str(tenant_id), change)

    async def _read(self, tenant_id: str) -> dict[str, ItemFields]:
        return {
            str(doc["item_id"]): _fields_of(doc)
            async for doc in self._items.scan(tenant_id, ("item_id", "categories", "tags"))
        }


def _apply(snapshot: dict[str, ItemFields], change: Mapping[str, Any]) -> None:
    item = change.get("item") or {}
    item_id = item.get("item_id")
    if item_id is None:
        return
    if change.get("op") == "delete":
        snapshot.pop(str(item_id), None)
        return
    # A change may carry only the fields it set (a batch upsert): keep what it does not mention.
    categories, tags = snapshot.get(str(item_id), ([], []))
    fields = _fields_of(item)
    snapshot[str(item_id)] = (
        fields[0] if "categories" in item else categories,
        fields[1] if "tags" in item else tags,
    )


def _fields_of(item: Mapping[str, Any]) -> ItemFields:
    return [str(c) for c in item.get("categories") or []], [str(t) for t in item.get("tags") or []]


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
