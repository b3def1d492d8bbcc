"""ItemPopularityActor: windowed popularity counts for a tenant's items in one shard."""

from __future__ import annotations

import time
from typing import Any

from dapr.actor import Actor

from actors.item_popularity import ItemPopularityActorInterface
from lemo.realtime.hot import HotCounts

_STATE_KEY = "hot"


class ItemPopularityActor(Actor, ItemPopularityActorInterface):
    async def _load(self) -> HotCounts:
        found, raw = await self._state_manager.try_get_state(_STATE_KEY)
        return HotCounts.model_validate(raw) if found else HotCounts()

    async def add_counts(self, payload: dict[str, Any]) -> None:
        counts = await self._load()
        for bucket_start, items in payload["buckets"].items():
            counts.add(float(bucket_start), {str(i): float(w) for i, w in items.items()})
        await self._state_manager.set_state(_STATE_KEY, counts.model_dump(mode="json"))
        await self._state_manager.save_state()

    async def get_hot(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        return (await self._load()).top(time.time(), int(payload.get("limit", 100)))
