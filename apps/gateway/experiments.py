"""/v1/experiments and /v1/scenarios/{scenario_id}/metrics: how each variant of a scenario's experiment performs
(docs/experiments.md). The counters live in the events app (apps/events/experiments.py); the gateway knows the
scenarios and turns the counts into a readout (lemo/experiments/readout.py). The HTTP routes and the gRPC methods
(apps/gateway/grpc_api.py) both call `scenario_metrics` and `list_experiments`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Query, Request, status

from apps.gateway.auth import Principal, Reader
from apps.gateway.downstream import Downstream
from apps.shared.errors import ApiError, error_responses
from lemo.event_counts import MAX_TIMESTAMP
from lemo.experiments import readout
from lemo.experiments.counts import Interval, WindowError, widen
from lemo.experiments.readout import ExperimentList, Metric, ScenarioMetrics
from lemo.scenarios import Scenario, ScenarioId
from lemo.serving.scenarios import ScenarioBook
from lemo.stores.mongo import ScenarioRepository

router = APIRouter(tags=["experiments"])

DEFAULT_WINDOW_S = 7 * 86400.0
_SINCE = "unix seconds; default: 7 days before `until`"
_UNTIL = "unix seconds; default: now"


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        "invalid_request",
        "the request does not match the schema",
        errors=[{"loc": ["query", field], "type": "value_error", "msg": message}],
    )


def _window(since: float | None, until: float | None) -> tuple[float, float]:
    """The window with its defaults; 422 for a bound outside 0..MAX_TIMESTAMP (gRPC sends any double) or an empty
    one."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and not 0 <= value <= MAX_TIMESTAMP:
            raise _invalid(name, f"unix seconds in 0..{MAX_TIMESTAMP:.0f}")
    until = until if until is not None else time.time()
    since = since if since is not None else max(0.0, until - DEFAULT_WINDOW_S)
    if since >= until:
        raise ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_window", "since must be before until")
    return since, until


async def _counts(
    down: Downstream, events_app: str, tenant_id: str, scenario_id: str, params: dict[str, Any]
) -> dict[str, Any]:
    resp = await down.call(events_app, "GET", f"experiments/{tenant_id}/{scenario_id}/counts", params=params)
    if resp.status_code != 200:
        error = (resp.json().get("error") or {}) if resp.content else {}
        raise ApiError(
            resp.status_code if resp.status_code < 500 else status.HTTP_503_SERVICE_UNAVAILABLE,
            str(error.get("code", "upstream_error")),
            str(error.get("message", resp.text[:300])),
            **(error.get("details") or {}),
        )
    return dict(resp.json())


async def scenario_metrics(
    down: Downstream,
    events_app: str,
    book: ScenarioBook,
    tenant_id: str,
    scenario_id: str,
    since: float | None = None,
    until: float | None = None,
    interval: str | None = None,
    experiment_id: str | None = None,
    metric: str | None = None,
) -> ScenarioMetrics:
    """One scenario's readout: 404 for a scenario (or experiment) the tenant does not have, 422 for a bad window,
    interval or metric."""
    try:
        step = Interval(interval or Interval.HOUR.value)
    except ValueError:
        raise _invalid("interval", "one of minute, hour, day") from None
    try:
        compared = Metric(metric or Metric.CTR_LIST.value)
    except ValueError:
        raise _invalid("metric", "one of ctr_list, ctr_item, conversion_rate") from None
    since, until = _window(since, until)
    try:
        window = widen(since, until, step)
    except WindowError as exc:
        raise ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.code, str(exc), **exc.details) from exc
    scenario = await book.get(tenant_id, scenario_id)
    if scenario is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario_id}")
    experiment = readout.chosen_experiment(scenario, experiment_id or None)
    if experiment_id and experiment is None:
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            "experiment_not_found",
            f"scenario {scenario_id} has no experiment {experiment_id}",
        )
    body = await _counts(
        down,
        events_app,
        tenant_id,
        scenario_id,
        {"since": window.since, "until": window.until, "interval": step.value},
    )
    series = [(float(row["start"]), row["counts"]) for row in body["series"]]
    return readout.scenario_metrics(
        scenario_id, experiment, window.since, window.until, step, body["totals"], series, compared
    )


async def list_experiments(
    down: Downstream,
    events_app: str,
    repo: ScenarioRepository,
    tenant_id: str,
    since: float | None = None,
    until: float | None = None,
) -> ExperimentList:
    """Every experiment of the tenant's scenarios with its split and headline numbers over the window."""
    since, until = _window(since, until)
    scenarios = [Scenario.model_validate(doc) for doc in await repo.all(tenant_id)]
    with_experiments = [s for s in scenarios if s.experiments]
    counted = await asyncio.gather(
        *(
            _counts(down, events_app, tenant_id, s.scenario_id, {"since": since, "until": until})
            for s in with_experiments
        )
    )
    return ExperimentList(
        since=since,
        until=until,
        experiments=[
            readout.experiment_summary(s.scenario_id, e, body["totals"])
            for s, body in zip(with_experiments, counted, strict=True)
            for e in s.experiments
        ],
    )


@router.get("/v1/experiments", response_model=ExperimentList, responses=error_responses(401, 403, 422, 503))
async def get_experiments(
    request: Request,
    since: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description=_SINCE),
    until: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description=_UNTIL),
    who: Principal = Reader,
) -> ExperimentList:
    """Every experiment of every scenario (enabled or not): variants, split, and per variant the lists served,
    clicks, conversions, CTR per list with its 95% interval and the difference to control with a verdict."""
    state = request.app.state
    return await list_experiments(
        state.downstream, state.settings.events_app, state.scenario_repo, who.tenant_id, since, until
    )


@router.get(
    "/v1/scenarios/{scenario_id}/metrics",
    response_model=ScenarioMetrics,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_scenario_metrics(
    scenario_id: ScenarioId,
    request: Request,
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
    state = request.app.state
    return await scenario_metrics(
        state.downstream,
        state.settings.events_app,
        state.scenarios,
        who.tenant_id,
        scenario_id,
        since,
        until,
        interval.value,
        experiment,
        metric.value,
    )
