"""lemo/experiments/readout.py: counters become the published readout (docs/experiments.md): a row per variant in
the configured order, control chosen by name or position, rates with intervals, the verdict against control."""

from __future__ import annotations

import pytest

from lemo.experiments.counts import NO_EXPERIMENT, UNATTRIBUTED, Interval
from lemo.experiments.readout import Metric, chosen_experiment, control_of, experiment_summary, scenario_metrics
from lemo.scenarios import ChannelConfig, Experiment, Scenario, Variant


def _experiment(eid: str = "ab", ids: tuple[str, ...] = ("a", "b"), enabled: bool = True) -> Experiment:
    share = 100.0 / len(ids)
    return Experiment(experiment_id=eid, enabled=enabled, variants=[Variant(variant_id=v, traffic=share) for v in ids])


def _scenario(*experiments: Experiment) -> Scenario:
    return Scenario(scenario_id="home", channels=[ChannelConfig(name="hot")], experiments=list(experiments))


def test_the_control_is_the_variant_named_control_else_the_first() -> None:
    assert control_of(_experiment(ids=("a", "b"))) == "a"
    assert control_of(_experiment(ids=("treatment", "control"))) == "control"


def test_the_experiment_shown_is_the_named_one_else_the_serving_one() -> None:
    off, on = _experiment("old", enabled=False), _experiment("new")
    scenario = _scenario(off, on)
    assert chosen_experiment(scenario) == on
    assert chosen_experiment(scenario, "old") == off
    assert chosen_experiment(scenario, "nope") is None
    assert chosen_experiment(_scenario(off)) == off
    assert chosen_experiment(_scenario()) is None


def test_a_readout_per_variant_with_rates_differences_and_series() -> None:
    totals = {
        "ab/a": {"lists": 200, "items": 2000, "lists_clicked": 30, "click": 40, "view": 7, "lists_converted": 4,
                 "purchase": 5},
        "ab/b": {"lists": 200, "items": 2000, "lists_clicked": 60, "click": 75},
        "ab/gone": {"lists": 9},  # a variant no longer configured is not shown
        NO_EXPERIMENT: {"lists": 50},  # lists served before the experiment started
        UNATTRIBUTED: {"click": 3},
    }  # fmt: skip
    series = [
        (1000.0, {"ab/a": {"lists": 150, "click": 30}}),
        (4600.0, {"ab/a": {"lists": 50}, "ab/b": {"lists": 200}}),
    ]
    got = scenario_metrics("home", _experiment(), 1000.0, 8200.0, Interval.HOUR, totals, series)
    assert (got.experiment, got.control, got.unattributed) == ("ab", "a", {"click": 3})
    a, b = got.variants
    assert (a.variant, a.traffic, a.exposures, a.items_shown, a.clicks, a.conversions) == ("a", 50.0, 200, 2000, 40, 5)
    assert a.events == {"click": 40, "purchase": 5, "view": 7}
    assert a.ctr_list.value == pytest.approx(0.15) and a.ctr_list.low is not None and a.ctr_list.low < 0.15
    assert a.ctr_item.value == pytest.approx(0.02)
    assert a.conversion_rate.value == pytest.approx(0.02)
    assert a.vs_control is None
    assert b.vs_control is not None
    assert (b.vs_control.metric, b.vs_control.verdict.value) == ("ctr_list", "better")
    assert b.vs_control.difference == pytest.approx(0.15)
    assert [(r.start, r.exposures, r.clicks) for r in a.series] == [(1000.0, 150, 30), (4600.0, 50, 0)]
    assert [r.exposures for r in b.series] == [0, 200]


def test_a_variant_without_lists_has_null_rates_and_not_enough_data() -> None:
    got = scenario_metrics("home", _experiment(), 0.0, 3600.0, Interval.HOUR, {"ab/a": {"lists": 500}}, [])
    b = got.variants[1]
    assert (b.exposures, b.ctr_list.value, b.ctr_list.low, b.ctr_list.high) == (0, None, None, None)
    assert b.vs_control is not None and b.vs_control.verdict.value == "not enough data"
    assert b.vs_control.difference is None


def test_a_scenario_without_an_experiment_reads_as_one_row() -> None:
    got = scenario_metrics("home", None, 0.0, 60.0, Interval.MINUTE, {NO_EXPERIMENT: {"lists": 4, "items": 40}}, [])
    assert (got.experiment, got.control) == (None, None)
    [row] = got.variants
    assert (row.variant, row.traffic, row.exposures, row.items_shown, row.vs_control) == (None, None, 4, 40, None)


def test_the_published_shape() -> None:
    body = scenario_metrics("home", _experiment(), 0.0, 3600.0, Interval.HOUR, {}, [(0.0, {})]).model_dump(mode="json")
    assert set(body) == {"scenario", "experiment", "control", "since", "until", "interval", "variants", "unattributed"}
    row = body["variants"][1]
    assert set(row) >= {"variant", "exposures", "items_shown", "clicks", "conversions", "events", "ctr_list",
                        "ctr_item", "conversion_rate", "vs_control", "series"}  # fmt: skip
    assert set(row["ctr_list"]) == {"value", "low", "high"}
    assert set(row["vs_control"]) == {"metric", "difference", "low", "high", "verdict"}
    assert set(row["series"][0]) == {"start", "exposures", "items_shown", "clicks", "conversions"}
    assert body["interval"] == "hour"


def test_experiment_summary_lists_split_and_headlines() -> None:
    summary = experiment_summary("home", _experiment(ids=("control", "x")), {"ab/x": {"lists": 3, "click": 1}})
    assert (summary.experiment, summary.enabled, summary.control) == ("ab", True, "control")
    assert [(v.variant, v.traffic, v.exposures, v.clicks) for v in summary.variants] == [
        ("control", 50.0, 0, 0),
        ("x", 50.0, 3, 1),
    ]


@pytest.mark.parametrize(
    ("metric", "difference", "verdict"),
    [
        (Metric.CTR_LIST, 0.0, "no difference"),  # as many lists clicked on both sides
        (Metric.CTR_ITEM, 0.05, "better"),  # but the treatment's lists were clicked more often
        (Metric.CONVERSION_RATE, -0.045, "worse"),
    ],
)
def test_vs_control_compares_the_rate_asked_for(metric: Metric, difference: float, verdict: str) -> None:
    totals = {
        "ab/a": {"lists": 1000, "items": 10000, "lists_clicked": 300, "click": 300, "lists_converted": 60},
        "ab/b": {"lists": 1000, "items": 10000, "lists_clicked": 300, "click": 800, "lists_converted": 15},
    }
    got = scenario_metrics("home", _experiment(), 0.0, 60.0, Interval.MINUTE, totals, [], metric)
    vs = got.variants[1].vs_control
    assert vs is not None and vs.metric is metric
    assert vs.difference == pytest.approx(difference) and vs.verdict.value == verdict
