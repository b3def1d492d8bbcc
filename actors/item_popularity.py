"""The windowed item-popularity actor: one per (tenant, shard), fed in batches by the events consumer."""

from __future__ import annotations

from typing import Any

from dapr.actor import ActorInterface, actormethod

ACTOR_TYPE = "ItemPopularityActor"
SHARDS = 4


def popularity_actor_id(tenant_id: str, item_id: str) -> str:
    # A stable shard (not Python's salted hash): the same item always lands on the same actor.
    return f"{tenant_id}:{sum(item_id.encode()) % SHARDS}"


class ItemPopularityActorInterface(ActorInterface):
    @actormethod(name="AddCounts")
    async def add_counts(self, payload: dict[str, Any]) -> None:
        """`{"buckets": {bucket_start: {item_id: weight}}}`: adds weighted interactions."""
        raise NotImplementedError

    @actormethod(name="GetHot")
    async def get_hot(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """`{"limit": n}` -> the shard's hottest items, `[{"item_id", "score"}]`, best first."""
        raise NotImplementedError
