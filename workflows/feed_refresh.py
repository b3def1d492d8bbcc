"""The feed-refresh workflow: many users' feeds for one tenant and scenario in one run, as Gorse's worker keeps a
feed for every user. The event-triggered refreshes and the warm-up start one run per batch of users instead of
one recommend workflow per user: a per-user workflow spends more CPU on its seven activities' scheduling and
history than on the read path itself.

The batch is split into chunks, one `compute_feeds` activity each, run side by side; each activity runs the read
path's pipeline (lemo.serving.pipeline.Pipeline, the online path's own steps and fallbacks) for its users and saves
their feeds in one bulk write. The body does no I/O and reads time only from the context clock.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy, when_all
from pydantic import BaseModel, Field

from lemo.events import Identifier
from lemo.scenarios import ScenarioId
from lemo.serving.scenarios import DEFAULT_SCENARIO
from workflows import recommend_activities as act

FEED_REFRESH_WORKFLOW = "refresh_feeds"

# A chunk's feeds are saved together; a store that restarts under it gets the chunk again (feeds are overwritten).
_CHUNK_RETRY = RetryPolicy(first_retry_interval=timedelta(milliseconds=500), max_number_of_attempts=3)

# The most users one run takes (the scheduler splits bigger refreshes into several runs).
MAX_USERS = 500


class FeedBatch(BaseModel):
    tenant_id: Identifier
    scenario_id: ScenarioId = DEFAULT_SCENARIO
    user_ids: list[Identifier] = Field(min_length=1, max_length=MAX_USERS)
    count: int = Field(ge=1, le=200)
    # Users per activity: the unit of retry and of parallelism across the workflow worker's activity slots.
    users_per_activity: int = Field(10, ge=1, le=MAX_USERS)


def refresh_feeds_workflow(ctx: DaprWorkflowContext, batch: FeedBatch) -> Generator[Any, Any, dict[str, Any]]:
    users, step = batch.user_ids, batch.users_per_activity
    chunks = [users[i : i + step] for i in range(0, len(users), step)]
    computed_at = ctx.current_utc_datetime.timestamp()
    results = yield when_all(
        [
            ctx.call_activity(
                act.COMPUTE_FEEDS,
                input=act.FeedsInput(
                    tenant_id=batch.tenant_id,
                    scenario_id=batch.scenario_id,
                    user_ids=chunk,
                    count=batch.count,
                    instance_id=ctx.instance_id,
                    computed_at=computed_at,
                ),
                retry_policy=_CHUNK_RETRY,
            )
            for chunk in chunks
        ]
    )
    total: dict[str, Any] = {"users": len(users), "saved": 0, "degraded": 0, "scenario_not_found": False}
    for result in results:
        total["saved"] += result["saved"]
        total["degraded"] += result["degraded"]
        total["scenario_not_found"] |= result["scenario_not_found"]
    return total
