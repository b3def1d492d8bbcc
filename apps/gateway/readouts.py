"""Experiment readouts for the public API (docs/experiments.md): the counters live in the events app
(apps/events/experiments.py); the gateway knows the scenarios and turns the counts into a readout
(lemo/experiments/readout.py). apps/gateway/service.py calls these for both transports."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import status

from apps.gateway.downstream import Downstream
from apps.shared.errors import ApiError
from lemo.event_counts import MAX_TIMESTAMP
from lemo.experiments import readout
from lemo.experiments.counts import Interval, WindowError, widen
from lemo.experiments.readout import ExperimentList, Metric, ScenarioMetrics
from lemo.scenarios import Scenario
from lemo.serving.scenario_book import ScenarioBook
from lemo.stores.ports import ScenarioList

DEFAULT_WINDOW_S = 7 * 86400.0


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
    repo: ScenarioList,
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
