"""An experiment readout: the counters of one scenario (lemo.experiments.counts) turned into per-variant numbers
with intervals and a verdict against control. The shapes here are the API's (docs/experiments.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from pydantic import BaseModel, Field

from lemo.events import EventType
from lemo.experiments import stats
from lemo.experiments.counts import (
    CLICK,
    CONVERSION,
    ITEMS,
    LISTS,
    LISTS_CLICKED,
    LISTS_CONVERTED,
    NO_EXPERIMENT,
    UNATTRIBUTED,
    Interval,
    slot,
)
from lemo.scenarios import Experiment, Scenario

# {slot: {metric: n}}, as lemo.experiments.counts.by_slot gives it.
SlotCounts = Mapping[str, Mapping[str, int]]
_EVENT_TYPES = {t.value for t in EventType}
_DIGITS = 6


class Metric(StrEnum):
    """A rate a variant is compared with control on."""

    CTR_LIST = "ctr_list"
    CTR_ITEM = "ctr_item"
    CONVERSION_RATE = "conversion_rate"


# Each rate's (numerator, denominator) counters.
_RATIO = {
    Metric.CTR_LIST: (LISTS_CLICKED, LISTS),
    Metric.CTR_ITEM: (CLICK, ITEMS),
    Metric.CONVERSION_RATE: (LISTS_CONVERTED, LISTS),
}


class Rate(BaseModel):
    """A proportion and its 95% interval (Wilson); all null when nothing was served."""

    value: float | None
    low: float | None
    high: float | None


class VsControl(BaseModel):
    """This variant's `metric` minus the control's, its 95% interval (Newcombe) and the verdict."""

    metric: Metric = Metric.CTR_LIST
    difference: float | None
    low: float | None
    high: float | None
    verdict: stats.Verdict


class SeriesRow(BaseModel):
    start: float = Field(description="the bucket's first second (unix seconds, UTC)")
    exposures: int
    items_shown: int
    clicks: int
    conversions: int


class VariantHeadline(BaseModel):
    variant: str | None
    traffic: float | None = Field(description="percent of users the experiment sends here; null without one")
    exposures: int
    clicks: int
    conversions: int
    ctr_list: Rate
    vs_control: VsControl | None


class VariantMetrics(VariantHeadline):
    items_shown: int
    lists_clicked: int = Field(description="lists with at least one attributed click (ctr_list's numerator)")
    lists_converted: int = Field(description="lists with at least one attributed purchase")
    events: dict[str, int] = Field(description="attributed events by type")
    ctr_item: Rate
    conversion_rate: Rate
    series: list[SeriesRow]


class ScenarioMetrics(BaseModel):
    scenario: str
    experiment: str | None
    control: str | None
    since: float
    until: float
    interval: Interval
    variants: list[VariantMetrics]
    unattributed: dict[str, int] = Field(description="events naming this scenario but no list of it, by type")


class ExperimentSummary(BaseModel):
    scenario: str
    experiment: str
    enabled: bool
    control: str
    variants: list[VariantHeadline]


class ExperimentList(BaseModel):
    since: float
    until: float
    experiments: list[ExperimentSummary]


def chosen_experiment(scenario: Scenario, experiment_id: str | None = None) -> Experiment | None:
    """The named experiment (None when the scenario has no such one), else the one serving (the first enabled),
    else the first."""
    if experiment_id is not None:
        return next((e for e in scenario.experiments if e.experiment_id == experiment_id), None)
    return next(
        (e for e in scenario.experiments if e.enabled), scenario.experiments[0] if scenario.experiments else None
    )


def control_of(experiment: Experiment) -> str:
    """The variant named `control`, else the first."""
    ids = [v.variant_id for v in experiment.variants]
    return "control" if "control" in ids else ids[0]


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, _DIGITS)


def _rate(estimate: stats.Estimate) -> Rate:
    return Rate(value=_r(estimate.value), low=_r(estimate.low), high=_r(estimate.high))


def _vs(counts: Mapping[str, int], control: Mapping[str, int], metric: Metric) -> VsControl:
    num, den = _RATIO[metric]
    d = stats.difference((counts.get(num, 0), counts.get(den, 0)), (control.get(num, 0), control.get(den, 0)))

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, _DIGITS)

    return VsControl(metric=metric, difference=r(d.difference), low=r(d.low), high=r(d.high), verdict=d.verdict)


def _arms(experiment: Experiment | None) -> list[tuple[str | None, float | None, str]]:
    """(variant id, traffic, slot) per row of a readout."""
    if experiment is None:
        return [(None, None, NO_EXPERIMENT)]
    return [(v.variant_id, v.traffic, slot(experiment.experiment_id, v.variant_id)) for v in experiment.variants]


def _headline(
    variant: str | None, traffic: float | None, c: Mapping[str, int], vs: VsControl | None
) -> VariantHeadline:
    return VariantHeadline(
        variant=variant,
        traffic=traffic,
        exposures=c.get(LISTS, 0),
        clicks=c.get(CLICK, 0),
        conversions=c.get(CONVERSION, 0),
        ctr_list=_rate(stats.proportion(c.get(LISTS_CLICKED, 0), c.get(LISTS, 0))),
        vs_control=vs,
    )


def _vs_for(
    experiment: Experiment | None, variant: str | None, totals: SlotCounts, metric: Metric = Metric.CTR_LIST
) -> VsControl | None:
    if experiment is None or variant is None or variant == control_of(experiment):
        return None
    control = totals.get(slot(experiment.experiment_id, control_of(experiment)), {})
    return _vs(totals.get(slot(experiment.experiment_id, variant), {}), control, metric)


def scenario_metrics(
    scenario_id: str,
    experiment: Experiment | None,
    since: float,
    until: float,
    interval: Interval,
    totals: SlotCounts,
    series: Sequence[tuple[float, SlotCounts]],
    metric: Metric = Metric.CTR_LIST,
) -> ScenarioMetrics:
    """The readout of one scenario: a row per variant (one row without an experiment), the series per bucket, each
    variant compared with control on `metric`."""
    rows = []
    for variant, traffic, at in _arms(experiment):
        c = totals.get(at, {})
        head = _headline(variant, traffic, c, _vs_for(experiment, variant, totals, metric))
        rows.append(
            VariantMetrics(
                **head.model_dump(),
                items_shown=c.get(ITEMS, 0),
                lists_clicked=c.get(LISTS_CLICKED, 0),
                lists_converted=c.get(LISTS_CONVERTED, 0),
                events={k: n for k, n in sorted(c.items()) if k in _EVENT_TYPES and n},
                ctr_item=_rate(stats.proportion(c.get(CLICK, 0), c.get(ITEMS, 0))),
                conversion_rate=_rate(stats.proportion(c.get(LISTS_CONVERTED, 0), c.get(LISTS, 0))),
                series=[
                    SeriesRow(
                        start=start,
                        exposures=b.get(at, {}).get(LISTS, 0),
                        items_shown=b.get(at, {}).get(ITEMS, 0),
                        clicks=b.get(at, {}).get(CLICK, 0),
                        conversions=b.get(at, {}).get(CONVERSION, 0),
                    )
                    for start, b in series
                ],
            )
        )
    unattributed = {k: n for k, n in sorted(totals.get(UNATTRIBUTED, {}).items()) if n}
    return ScenarioMetrics(
        scenario=scenario_id,
        experiment=experiment.experiment_id if experiment else None,
        control=control_of(experiment) if experiment else None,
        since=since,
        until=until,
        interval=interval,
        variants=rows,
        unattributed=unattributed,
    )


def experiment_summary(scenario_id: str, experiment: Experiment, totals: SlotCounts) -> ExperimentSummary:
    """One experiment's split and headline numbers (no series)."""
    return ExperimentSummary(
        scenario=scenario_id,
        experiment=experiment.experiment_id,
        enabled=experiment.enabled,
        control=control_of(experiment),
        variants=[
            _headline(variant, traffic, totals.get(at, {}), _vs_for(experiment, variant, totals))
            for variant, traffic, at in _arms(experiment)
        ],
    )
