"""/v1/experiments and /v1/scenarios/{scenario_id}/metrics: how each variant of a scenario's experiment performs
(docs/experiments.md), read out by apps/gateway/readouts.py through the public API's service (which the gRPC
methods call too)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from apps.gateway.auth import Principal, Reader
from apps.gateway.deps import Api
from apps.gateway.openapi import TENANT_ERRORS
from lemo.event_counts import MAX_TIMESTAMP
from lemo.experiments.counts import Interval
from lemo.experiments.readout import ExperimentList, Metric, ScenarioMetrics
from lemo.scenarios import ScenarioId

router = APIRouter(tags=["experiments"], responses=TENANT_ERRORS)

_SINCE = "unix seconds; default: 7 days before `until`"
_UNTIL = "unix seconds; default: now"


@router.get("/v1/experiments", response_model=ExperimentList)
async def get_experiments(
    api: Api,
    since: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description=_SINCE),
    until: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description=_UNTIL),
    who: Principal = Reader,
) -> ExperimentList:
    """Every experiment of every scenario (enabled or not): variants, split, and per variant the lists served,
    clicks, conversions, CTR per list with its 95% interval and the difference to control with a verdict."""
    return await api.experiments(who.tenant_id, since, until)


@router.get(
    "/v1/scenarios/{scenario_id}/metrics",
    response_model=ScenarioMetrics,
)
async def get_scenario_metrics(
    scenario_id: ScenarioId,
    api: Api,
    since: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description=_SINCE),
    until: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description=_UNTIL),
    interval: Interval = Query(Interval.HOUR, description="the series' bucket; the window widens to whole ones"),
    experiment: ScenarioId | None = Query(None, description="default: the first enabled experiment, else the first"),
    metric: Metric = Query(Metric.CTR_LIST, description="the rate vs_control compares with control"),
    who: Principal = Reader,
) -> ScenarioMetrics:
    """Per variant of the scenario's experiment: lists served, items shown, attributed clicks, conversions and
    events by type, CTR per list and per item shown and conversion rate with 95% intervals, the difference to
    control with its interval and verdict, and a series per interval; events that name the scenario but no list
    of it under `unattributed`. A window that starts before its interval's buckets are kept (minute 8 days, hour
    100 days, day 3 years by default; docs/experiments.md) answers 422 `interval_not_kept`: pick a longer interval."""
    return await api.scenario_metrics(
        who.tenant_id, scenario_id, since, until, interval.value, experiment, metric.value
    )
