"""The popularity workflow: settle -> rank popular items from the event archive -> publish them to state.

The body does no I/O and reads time only from the context clock, so replays are deterministic.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext
from pydantic import BaseModel, Field

from workflows.popularity_activities import PUBLISH_POPULAR, RANK_POPULAR, PublishInput, RankInput

POPULARITY_WORKFLOW = "popularity"


class PopularityRequest(BaseModel):
    tenant_id: str
    # Wait this long before counting, so events still in flight for the window are included (a watermark).
    settle_s: float = Field(default=0.0, ge=0, le=3600)
    half_life_s: float = Field(default=7 * 86400.0, gt=0)
    limit: int = Field(default=200, ge=1, le=10_000)


def popularity_workflow(ctx: DaprWorkflowContext, request: PopularityRequest) -> Generator[Any, Any, dict[str, Any]]:
    if request.settle_s > 0:
        yield ctx.create_timer(timedelta(seconds=request.settle_s))
    now = ctx.current_utc_datetime.timestamp()
    ranked = yield ctx.call_activity(
        RANK_POPULAR,
        input=RankInput(
            tenant_id=request.tenant_id, now=now, half_life_s=request.half_life_s, limit=request.limit
        ).model_dump(),
    )
    count = yield ctx.call_activity(
        PUBLISH_POPULAR,
        input=PublishInput(tenant_id=request.tenant_id, computed_at=now, items=ranked).model_dump(),
    )
    return {"tenant_id": request.tenant_id, "items": count, "computed_at": now}
