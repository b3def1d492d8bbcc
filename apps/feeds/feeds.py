"""/feeds: compute a user's feed with the recommend workflow, and read the stored one.

`POST /feeds/{tenant}/{user}?wait=true` is what the gateway's `mode=workflow` calls: it answers the
Recommendation (200) once the workflow has stored it, or 504 past the wait timeout (the run still completes and
stores the feed). Without `wait` it answers 202 with the instance id.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response, status

from apps.feeds.deps import FeedsDep, SettingsDep
from apps.feeds.schemas import Recommendation, RecommendRequest
from lemo.events import Identifier
from lemo.scenarios import ScenarioId
from lemo.tenancy import TenantId

router = APIRouter(prefix="/feeds", tags=["feeds"])


@router.post("/{tenant_id}/{user_id}", status_code=status.HTTP_202_ACCEPTED, response_model=None)
async def compute_feed(
    tenant_id: TenantId,
    user_id: Identifier,
    settings: SettingsDep,
    feeds: FeedsDep,
    scenario: ScenarioId = "home",
    count: int | None = Query(None, ge=1, le=200),
    debug: bool = False,
    wait: bool = False,
) -> dict[str, Any] | Response:
    run = RecommendRequest(
        tenant_id=tenant_id, user_id=user_id, scenario_id=scenario, count=count or settings.feed_size, debug=debug
    )
    if not wait:
        return await feeds.start(run)
    feed = await feeds.compute(run)
    return Response(feed.model_dump_json(), media_type="application/json")


@router.get("/{tenant_id}/{user_id}", response_model=Recommendation)
async def stored_feed(tenant_id: TenantId, user_id: Identifier, feeds: FeedsDep, scenario: ScenarioId = "home") -> Any:
    return Response(await feeds.stored(tenant_id, user_id, scenario), media_type="application/json")
