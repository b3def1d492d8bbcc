"""The recommend workflow: one user's feed for one scenario, computed by the read path's steps as activities and
kept in the state store (lemo.serving.contract.feed_state_key) for the gateway's `mode=cached`.

resolve the scenario -> user context -> recall -> rank -> rerank (or popular items when recall gave nothing)
-> save the feed with a TTL. The steps are the online path's own (lemo.serving.pipeline.Pipeline) and the answer
is assembled by the same `Trace`, so a precomputed feed is the list the online path would have served, with the
same fallbacks and reasons. The body does no I/O and reads time only from the context clock, so replays are
deterministic.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy
from pydantic import BaseModel, Field

from lemo.events import Identifier
from lemo.scenarios import ResolvedScenario, ScenarioId
from lemo.serving.pipeline import ItemsOutcome, ProfileOutcome, RankOutcome, RecallOutcome, Trace
from lemo.serving.scenario_book import DEFAULT_SCENARIO
from workflows import recommend_activities as act

RECOMMEND_WORKFLOW = "recommend"

# Store steps can meet a restarting store; stage steps degrade instead of failing, one retry covers the odd crash.
_STORE_RETRY = RetryPolicy(first_retry_interval=timedelta(milliseconds=200), max_number_of_attempts=3)
_STAGE_RETRY = RetryPolicy(first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=2)


class RecommendRequest(BaseModel):
    tenant_id: Identifier
    user_id: Identifier
    scenario_id: ScenarioId = DEFAULT_SCENARIO
    # None: the scenario's default count.
    count: int | None = Field(default=None, ge=1, le=200)
    debug: bool = False


def recommend_workflow(ctx: DaprWorkflowContext, request: RecommendRequest) -> Generator[Any, Any, dict[str, Any]]:
    tenant, user_id = request.tenant_id, request.user_id
    resolved = yield ctx.call_activity(
        act.RESOLVE,
        input=act.ResolveInput(tenant_id=tenant, user_id=user_id, scenario_id=request.scenario_id),
        retry_policy=_STORE_RETRY,
    )
    if resolved["scenario"] is None:
        return {"error": "scenario_not_found", "scenario_id": request.scenario_id}
    scenario = ResolvedScenario.model_validate(resolved["scenario"])
    count = request.count or scenario.default_count
    trace = Trace()

    profile = ProfileOutcome.model_validate(
        (
            yield ctx.call_activity(
                act.USER_CONTEXT, input=act.UserInput(tenant_id=tenant, user_id=user_id), retry_policy=_STAGE_RETRY
            )
        )
    )
    trace.add("profile", profile)
    user = profile.user

    recalled = RecallOutcome.model_validate(
        (
            yield ctx.call_activity(
                act.RECALL,
                input=act.RecallInput(tenant_id=tenant, user=user, scenario=scenario),
                retry_policy=_STAGE_RETRY,
            )
        )
    )
    trace.add("recall", recalled)
    seen = sorted(set(recalled.seen) | set(user.recent_items))

    if not recalled.candidates.item_ids:
        final = ItemsOutcome.model_validate(
            (
                yield ctx.call_activity(
                    act.POPULAR,
                    input=act.PopularInput(tenant_id=tenant, count=count, seen=seen),
                    retry_policy=_STAGE_RETRY,
                )
            )
        )
        trace.add("popular", final)
    else:
        ranked = RankOutcome.model_validate(
            (
                yield ctx.call_activity(
                    act.RANK,
                    input=act.RankInput(
                        tenant_id=tenant, user=user, scenario=scenario, count=count, candidates=recalled.candidates
                    ),
                    retry_policy=_STAGE_RETRY,
                )
            )
        )
        trace.add("ranking", ranked)
        final = ItemsOutcome.model_validate(
            (
                yield ctx.call_activity(
                    act.RERANK,
                    input=act.RerankInput(
                        tenant_id=tenant,
                        user_id=user_id,
                        scenario=scenario,
                        count=count,
                        candidates=ranked.candidates,
                        seen=seen,
                    ),
                    retry_policy=_STAGE_RETRY,
                )
            )
        )
        trace.add("rerank", final)

    # Time inside the stages (total_ms omitted); the workflow's own overhead shows as the difference to the
    # caller's wall time.
    feed = trace.answer(scenario, final.items, request.debug)
    saved = yield ctx.call_activity(
        act.SAVE,
        input=act.SaveInput(
            tenant_id=tenant,
            user_id=user_id,
            feed=feed,
            instance_id=ctx.instance_id,
            computed_at=ctx.current_utc_datetime.timestamp(),
        ),
        retry_policy=_STORE_RETRY,
    )
    return {"feed": saved}
