"""Activities of the popularity workflow. Each takes one pydantic model, so fields can be added compatibly.

They run on the workflow worker's own event loop, so each opens its store clients there.
"""

from __future__ import annotations

import json
import logging

from dapr.aio.clients import DaprClient
from dapr.ext.workflow import WorkflowActivityContext
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from lemo.popularity import PopularItem, popular_items
from lemo.stores.mongo import EventArchive

logger = logging.getLogger(__name__)

RANK_POPULAR = "rank_popular_items"
PUBLISH_POPULAR = "publish_popular_items"


class ActivityDeps(BaseModel):
    mongodb_uri: str
    mongodb_database: str
    state_store: str


_deps: ActivityDeps | None = None


def configure(deps: ActivityDeps) -> None:
    """Called once by the trainer's bootstrap before the workflow runtime starts."""
    global _deps
    _deps = deps


def _require_deps() -> ActivityDeps:
    if _deps is None:
        raise RuntimeError("workflows.popularity_activities.configure() was not called")
    return _deps


class RankInput(BaseModel):
    tenant_id: str
    now: float
    half_life_s: float
    limit: int


class PublishInput(BaseModel):
    tenant_id: str
    computed_at: float
    items: list[dict[str, float | str]]


def popular_state_key(tenant_id: str) -> str:
    return f"popular:{tenant_id}"


async def rank_popular_items(_: WorkflowActivityContext, request: RankInput) -> list[dict[str, float | str]]:
    deps = _require_deps()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(deps.mongodb_uri)
    try:
        archive = EventArchive(client[deps.mongodb_database], retention_days=365)
        interactions = [i async for i in archive.interactions(request.tenant_id)]
    finally:
        await client.close()
    ranked: list[PopularItem] = popular_items(interactions, request.now, request.half_life_s, request.limit)
    logger.info(
        "ranked %d popular items from %d interactions",
        len(ranked),
        len(interactions),
        extra={"tenant_id": request.tenant_id},
    )
    return [{"item_id": p.item_id, "score": p.score} for p in ranked]


async def publish_popular_items(_: WorkflowActivityContext, request: PublishInput) -> int:
    deps = _require_deps()
    async with DaprClient() as dapr:
        await dapr.save_state(
            deps.state_store,
            popular_state_key(request.tenant_id),
            json.dumps({"tenant_id": request.tenant_id, "computed_at": request.computed_at, "items": request.items}),
        )
    return len(request.items)
