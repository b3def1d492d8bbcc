"""The feed-refresh workflow: many users' feeds for one tenant and scenario in one run, as Gorse's worker keeps a
feed for every user. The event-triggered refreshes and the warm-up start one run per batch of users instead of
one recommend workflow per user: a per-user workflow spends more CPU on its seven activities' scheduling and
history than on the read path itself.

The batch is split into chunks, one `compute_feeds` activity each, run side by side; each activity runs the read
path's pipeline (lemo.serving.pipeline.Pipeline, the online path's own steps and fallbacks) for its users and saves
their feeds in one bulk write. Degraded feeds get a second pass a few seconds later. The body does no I/O and reads
time only from the context clock.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy, when_all
from pydantic import BaseModel, Field

from lemo.events import Identifier
from lemo.scenarios import ScenarioId
from lemo.serving.scenario_book import DEFAULT_SCENARIO
from workflows import recommend_activities as act

FEED_REFRESH_WORKFLOW = "refresh_feeds"

# A chunk's feeds are saved together; a store that restarts under it gets the chunk again (feeds are overwritten).
_CHUNK_RETRY = RetryPolicy(first_retry_interval=timedelta(milliseconds=500), max_number_of_attempts=3)

# Feeds that came out degraded are computed once more this long after the run's first pass.
RETRY_DEGRADED_AFTER = timedelta(seconds=5)

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
    """Every user's feed, then once more, after `RETRY_DEGRADED_AFTER`, the feeds that came out degraded (a stage
    that missed its deadline under load): a degraded feed lives a minute only, and a user whose feed expires is
    served online until the next refresh."""
    computed_at = ctx.current_utc_datetime.timestamp()
    results = yield when_all(_compute(ctx, batch, batch.user_ids, computed_at))
    total: dict[str, Any] = {"users": len(batch.user_ids), "saved": 0, "degraded": 0, "scenario_not_found": False}
    for result in results:
        total["saved"] += result["saved"]
        total["scenario_not_found"] |= result["scenario_not_found"]
    degraded = [user for result in results for user in result.get("degraded_users", [])]
    total["retried"] = len(degraded)
    if degraded:
        yield ctx.create_timer(RETRY_DEGRADED_AFTER)
        results = yield when_all(_compute(ctx, batch, degraded, ctx.current_utc_datetime.timestamp()))
    total["degraded"] = sum(len(result.get("degraded_users", [])) for result in results)
    return total


def _compute(ctx: DaprWorkflowContext, batch: FeedBatch, users: list[str], computed_at: float) -> list[Any]:
    step = batch.users_per_activity
    return [
        ctx.call_activity(
            act.COMPUTE_FEEDS,
            input=act.FeedsInput(
                tenant_id=batch.tenant_id,
                scenario_id=batch.scenario_id,
                user_ids=users[i : i + step],
                count=batch.count,
                instance_id=ctx.instance_id,
                computed_at=computed_at,
            ),
            retry_policy=_CHUNK_RETRY,
        )
        for i in range(0, len(users), step)
    ]
