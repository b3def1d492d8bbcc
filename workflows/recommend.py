"""The recommend workflow: one user's feed for one scenario, computed by the read path's stages as activities and
kept in the state store (lemo.pipeline.feed_state_key) for the gateway's `mode=cached`.

resolve the scenario -> user context -> recall -> rank -> rerank (or popular items when recall gave nothing)
-> save the feed with a TTL. The stages are the gateway's own (apps/shared/stages.Pipeline), so a precomputed feed
is the list the online path would have served, with the same fallbacks and reasons. The body does no I/O and
reads time only from the context clock, so replays are deterministic.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy
from pydantic import BaseModel, Field

from lemo.events import Identifier
from lemo.scenarios import ScenarioId
from workflows import recommend_activities as act

RECOMMEND_WORKFLOW = "recommend"

# Store steps can meet a restarting store; stage steps degrade instead of failing, one retry covers the odd crash.
_STORE_RETRY = RetryPolicy(first_retry_interval=timedelta(milliseconds=200), max_number_of_attempts=3)
_STAGE_RETRY = RetryPolicy(first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=2)


class RecommendRequest(BaseModel):
    tenant_id: Identifier
    user_id: Identifier
    scenario_id: ScenarioId = act.DEFAULT_SCENARIO
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
    scenario = resolved["scenario"]
    count = request.count or int(scenario["default_count"])
    timings: dict[str, float] = {}
    info: dict[str, Any] = {}

    profile = yield ctx.call_activity(
        act.USER_CONTEXT, input=act.UserInput(tenant_id=tenant, user_id=user_id), retry_policy=_STAGE_RETRY
    )
    timings["profile"] = profile["ms"]
    reasons: list[str] = list(profile["reasons"])
    user = profile["user"]

    recalled = yield ctx.call_activity(
        act.RECALL,
        input=act.RecallInput(tenant_id=tenant, user=user, scenario=scenario),
        retry_policy=_STAGE_RETRY,
    )
    timings["recall"] = recalled["ms"]
    reasons += recalled["reasons"]
    if recalled["channels"] is not None:
        info["channels"] = recalled["channels"]
    seen = sorted(set(recalled["seen"]) | set(user["recent_items"]))

    if not recalled["candidates"]:
        popular = yield ctx.call_activity(
            act.POPULAR, input=act.PopularInput(tenant_id=tenant, count=count, seen=seen), retry_policy=_STAGE_RETRY
        )
        timings["popular"] = popular["ms"]
        items, reasons = popular["items"], reasons + popular["reasons"]
    else:
        ranked = yield ctx.call_activity(
            act.RANK,
            input=act.RankInput(
                tenant_id=tenant, user=user, scenario=scenario, count=count, candidates=recalled["candidates"]
            ),
            retry_policy=_STAGE_RETRY,
        )
        timings["ranking"] = ranked["ms"]
        reasons += ranked["reasons"]
        if ranked["ranker"] is not None:
            info["ranker"] = ranked["ranker"]
        reranked = yield ctx.call_activity(
            act.RERANK,
            input=act.RerankInput(
                tenant_id=tenant,
                user_id=user_id,
                scenario=scenario,
                count=count,
                candidates=ranked["candidates"],
                seen=seen,
            ),
            retry_policy=_STAGE_RETRY,
        )
        timings["rerank"] = reranked["ms"]
        reasons += reranked["reasons"]
        if reranked["rules"] is not None:
            info["rules"] = reranked["rules"]
        items = reranked["items"]

    # Time inside the stages; the workflow's own overhead shows as the difference to the caller's wall time.
    timings["total"] = round(sum(timings.values()), 2)
    feed = yield ctx.call_activity(
        act.SAVE,
        input=act.SaveInput(
            tenant_id=tenant,
            user_id=user_id,
            scenario=scenario,
            items=items,
            reasons=reasons,
            debug=request.debug,
            info=info,
            timings=timings,
            instance_id=ctx.instance_id,
            computed_at=ctx.current_utc_datetime.timestamp(),
        ),
        retry_policy=_STORE_RETRY,
    )
    return {"feed": feed}
