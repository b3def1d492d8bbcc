"""/feeds: compute a user's feed with the recommend workflow, and read the stored one.

`POST /feeds/{tenant}/{user}?wait=true` is what the gateway's `mode=workflow` calls: it answers the
Recommendation (200) once the workflow has stored it, or 504 past the wait timeout (the run still completes and
stores the feed). Without `wait` it answers 202 with the instance id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Response, status

from apps.feeds.deps import HttpDep, SchedulerDep, SettingsDep
from apps.shared.errors import ApiError
from lemo.events import Identifier
from lemo.scenarios import ScenarioId
from lemo.serving.contract import feed_state_key
from lemo.serving.pipeline import Recommendation
from lemo.tenancy import TenantId
from workflows.recommend import RecommendRequest

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/feeds", tags=["feeds"])


@router.post("/{tenant_id}/{user_id}", status_code=status.HTTP_202_ACCEPTED, response_model=None)
async def compute_feed(
    tenant_id: TenantId,
    user_id: Identifier,
    settings: SettingsDep,
    scheduler: SchedulerDep,
    scenario: ScenarioId = "home",
    count: int | None = Query(None, ge=1, le=200),
    debug: bool = False,
    wait: bool = False,
) -> dict[str, Any] | Response:
    run = RecommendRequest(
        tenant_id=tenant_id, user_id=user_id, scenario_id=scenario, count=count or settings.feed_size, debug=debug
    )
    key = feed_state_key(tenant_id, user_id, scenario)
    if not wait:
        return {"instance_id": await scheduler.start(run), "key": key}
    try:
        instance_id, output, failure = await scheduler.run(run, settings.wait_timeout_s)
    except TimeoutError as exc:
        raise ApiError(
            status.HTTP_504_GATEWAY_TIMEOUT,
            "workflow_timeout",
            f"the recommend workflow took longer than {settings.wait_timeout_s} s; it still stores the feed",
            key=key,
        ) from exc
    if failure is not None or output is None:
        raise ApiError(status.HTTP_502_BAD_GATEWAY, "workflow_failed", failure or "no output", instance_id=instance_id)
    if output.get("error") == "scenario_not_found":
        raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario}")
    feed = Recommendation.model_validate(output["feed"])
    return Response(feed.model_dump_json(), media_type="application/json")


@router.get("/{tenant_id}/{user_id}", response_model=Recommendation)
async def stored_feed(
    tenant_id: TenantId, user_id: Identifier, settings: SettingsDep, http: HttpDep, scenario: ScenarioId = "home"
) -> Any:
    key = feed_state_key(tenant_id, user_id, scenario)
    resp = await http.get(f"/v1.0/state/{settings.state_store}/{key}")
    if resp.status_code == status.HTTP_204_NO_CONTENT or (resp.status_code == 200 and not resp.content):
        raise ApiError(status.HTTP_404_NOT_FOUND, "feed_not_found", f"no stored {scenario} feed for user {user_id}")
    if resp.status_code != 200:
        raise ApiError(status.HTTP_502_BAD_GATEWAY, "state_store_error", f"state store answered {resp.status_code}")
    return Response(resp.content, media_type="application/json")
