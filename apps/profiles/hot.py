"""GET /hot/{tenant_id}: the tenant's windowed item popularity, merged from its popularity actors' shards."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query

from actors.item_popularity import ACTOR_TYPE as HOT_ACTOR
from actors.item_popularity import SHARDS, ItemPopularityActorInterface
from apps.shared.actor_client import actor_proxy
from lemo.events import Identifier

router = APIRouter(prefix="/hot", tags=["realtime"])


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
