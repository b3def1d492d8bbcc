"""Scenario configuration: validation, stable experiment assignment, overrides that inherit."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from lemo.rerank import FilterRuleConfig, MMRRuleConfig, PinRuleConfig
from lemo.scenarios import (
    ChannelConfig,
    Experiment,
    Scenario,
    ScenarioOverrides,
    Variant,
    assign_variant,
    bucket_of,
    default_scenario,
    resolve,
)


def _scenario(**fields: Any) -> Scenario:
    body: dict[str, Any] = {"scenario_id": "home", "channels": [{"name": "hot"}, {"name": "item_cf"}]}
    return Scenario.model_validate({**body, **fields})


def _ab(traffic: tuple[float, float] = (50, 50), enabled: bool = True, **b_overrides: Any) -> Experiment:
    return Experiment(
        experiment_id="exp1",
        enabled=enabled,
        variants=[
            Variant(variant_id="control", traffic=traffic[0]),
            Variant(variant_id="treatment", traffic=traffic[1], overrides=ScenarioOverrides(**b_overrides)),
        ],
    )


def test_duplicate_channel_names_are_rejected_by_name() -> None:
    with pytest.raises(ValidationError, match="duplicate channel names: hot"):
        _scenario(channels=[{"name": "hot"}, {"name": "als"}, {"name": "hot", "quota": 5}])


def test_unknown_channel_bad_quota_and_no_channels_are_rejected() -> None:
    with pytest.raises(ValidationError):
        _scenario(channels=[{"name": "telepathy"}])
    with pytest.raises(ValidationError):
        _scenario(channels=[{"name": "hot", "quota": 0}])
    with pytest.raises(ValidationError):
        _scenario(channels=[{"name": "hot", "deadline_ms": 5000}])
    with pytest.raises(ValidationError):
        _scenario(channels=[])
    with pytest.raises(ValidationError, match="at least one channel must be enabled"):
        _scenario(channels=[{"name": "hot", "enabled": False}])


@pytest.mark.parametrize("scenario_id", ["", "home feed", "a/b", "x" * 65, "héllo"])
def test_bad_scenario_ids_are_rejected(scenario_id: str) -> None:
    with pytest.raises(ValidationError):
        _scenario(scenario_id=scenario_id)


def test_good_ids_and_every_rule_type_load_from_json() -> None:
    scenario = _scenario(
        scenario_id="item-page.v2:web@eu",
        rules=[
            {"type": "exclude_seen"},
            {"type": "mmr", "lambda": 0.5, "by": "embedding"},
            {"type": "freshness", "half_life_hours": 12, "boost": 1},
            {"type": "filter", "exclude_categories": ["adult"]},
            {"type": "boost", "factor": 2, "tags": ["promo"]},
            {"type": "pin", "pins": [{"item_id": "a", "slot": 0}]},
            {"type": "category_cap", "max_per_category": 2},
        ],
    )
    assert [r.type for r in scenario.rules] == [
        "exclude_seen",
        "mmr",
        "freshness",
        "filter",
        "boost",
        "pin",
        "category_cap",
    ]
    mmr = scenario.rules[1]
    assert isinstance(mmr, MMRRuleConfig) and mmr.lambda_ == 0.5
    assert Scenario.model_validate_json(scenario.model_dump_json()) == scenario


def test_bad_rules_are_rejected() -> None:
    with pytest.raises(ValidationError):
        _scenario(rules=[{"type": "shuffle"}])
    with pytest.raises(ValidationError, match="at least one of"):
        _scenario(rules=[{"type": "boost", "factor": 2}])
    with pytest.raises(ValidationError, match="share a slot"):
        _scenario(rules=[{"type": "pin", "pins": [{"item_id": "a", "slot": 1}, {"item_id": "b", "slot": 1}]}])
    with pytest.raises(ValidationError):
        _scenario(rules=[{"type": "mmr", "lambda": 1.5}])


def test_enabled_experiment_traffic_must_sum_to_100() -> None:
    with pytest.raises(ValidationError, match="variant traffic must sum to 100, got 90"):
        _ab(traffic=(50, 40))
    with pytest.raises(ValidationError, match="needs variants"):
        Experiment(experiment_id="e", variants=[])
    # A disabled draft may be incomplete.
    assert _ab(traffic=(50, 40), enabled=False).enabled is False


def test_duplicate_variant_and_experiment_ids_are_rejected() -> None:
    with pytest.raises(ValidationError, match="duplicate variant ids"):
        Experiment(
            experiment_id="e",
            variants=[Variant(variant_id="a", traffic=50), Variant(variant_id="a", traffic=50)],
        )
    with pytest.raises(ValidationError, match="duplicate experiment ids"):
        _scenario(experiments=[_ab(), _ab()])


def test_assignment_is_stable_and_fixed_across_processes() -> None:
    experiment = _ab()
    first = [assign_variant(experiment, "acme", f"u{i}").variant_id for i in range(200)]
    again = [assign_variant(experiment, "acme", f"u{i}").variant_id for i in range(200)]
    assert first == again
    # sha256-based, so these values hold in every process and on every machine (Python's hash() would not).
    assert bucket_of("acme", "exp1", "u1") == (
        int.from_bytes(hashlib.sha256(b"acme:exp1:u1").digest()[:8], "big") % 10_000
    )


def test_fifty_fifty_split_is_within_two_points_over_10000_users() -> None:
    experiment = _ab()
    counts = Counter(assign_variant(experiment, "acme", f"user-{i}").variant_id for i in range(10_000))
    assert abs(counts["control"] - 5_000) <= 200
    assert counts["control"] + counts["treatment"] == 10_000


def test_assignment_differs_between_tenants_and_experiments() -> None:
    a = _ab()
    b = a.model_copy(update={"experiment_id": "exp2"})
    users = [f"u{i}" for i in range(500)]
    in_a = [assign_variant(a, "acme", u).variant_id for u in users]
    in_b = [assign_variant(b, "acme", u).variant_id for u in users]
    other_tenant = [assign_variant(a, "globex", u).variant_id for u in users]
    assert in_a != in_b
    assert in_a != other_tenant


def test_zero_traffic_variant_gets_nobody() -> None:
    experiment = _ab(traffic=(100, 0))
    assert {assign_variant(experiment, "acme", f"u{i}").variant_id for i in range(1000)} == {"control"}


def test_resolve_without_experiments_is_the_scenario() -> None:
    scenario = _scenario(ranker="weighted", default_count=7)
    resolved = resolve(scenario, "acme", "u1")
    assert (resolved.ranker, resolved.default_count, resolved.experiment_id, resolved.variant_id) == (
        "weighted",
        7,
        None,
        None,
    )
    assert list(resolved.channel_configs()) == ["hot", "item_cf"]


def test_overrides_replace_set_fields_and_inherit_the_rest() -> None:
    scenario = _scenario(
        ranker="deepfm",
        default_count=20,
        candidate_limit=300,
        rules=[{"type": "exclude_seen"}],
        experiments=[_ab(traffic=(0, 100), ranker="wide_deep", rules=[])],
    )
    resolved = resolve(scenario, "acme", "anyone")
    assert (resolved.experiment_id, resolved.variant_id) == ("exp1", "treatment")
    assert resolved.ranker == "wide_deep"
    assert resolved.rules == []  # set to empty: no rules, not "inherit"
    assert resolved.default_count == 20
    assert resolved.candidate_limit == 300
    assert resolved.channels == scenario.channels


def test_override_channels_replace_the_list() -> None:
    scenario = _scenario(experiments=[_ab(traffic=(0, 100), channels=[ChannelConfig(name="als", quota=7)])])
    resolved = resolve(scenario, "acme", "u")
    assert [(c.name, c.quota) for c in resolved.channels] == [("als", 7)]
    with pytest.raises(ValidationError, match="duplicate channel names"):
        ScenarioOverrides(channels=[ChannelConfig(name="als"), ChannelConfig(name="als")])


def test_resolve_uses_first_enabled_experiment_and_the_users_variant() -> None:
    off = _ab(traffic=(0, 100), enabled=False, ranker="random").model_copy(update={"experiment_id": "off"})
    on = _ab(default_count=3)
    scenario = _scenario(experiments=[off, on])
    for i in range(50):
        user = f"u{i}"
        resolved = resolve(scenario, "acme", user)
        expected = assign_variant(on, "acme", user).variant_id
        assert (resolved.experiment_id, resolved.variant_id) == ("exp1", expected)
        assert resolved.ranker == "deepfm"
        assert resolved.default_count == (3 if expected == "treatment" else 10)


def test_a_forced_variant_overrides_the_users_own() -> None:
    scenario = _scenario(experiments=[_ab(traffic=(100, 0), ranker="random")])
    assert resolve(scenario, "acme", "u1").variant_id == "control"
    forced = resolve(scenario, "acme", "u1", variant_id="treatment")
    assert (forced.experiment_id, forced.variant_id, forced.ranker) == ("exp1", "treatment", "random")
    assert resolve(scenario, "acme", "u1", variant_id="control").ranker == "deepfm"
    with pytest.raises(KeyError, match="no variant 'nope'"):
        resolve(scenario, "acme", "u1", variant_id="nope")
    with pytest.raises(KeyError, match="runs no experiment"):
        resolve(_scenario(), "acme", "u1", variant_id="control")


def test_filters_lead_the_rerank_chain() -> None:
    scenario = _scenario(
        filters={"exclude_categories": ["adult"]},
        rules=[{"type": "pin", "pins": [{"item_id": "a", "slot": 0}]}],
    )
    chain = resolve(scenario, "acme", "u").rerank_rules()
    assert isinstance(chain[0], FilterRuleConfig) and chain[0].exclude_categories == ["adult"]
    assert isinstance(chain[1], PinRuleConfig)
    assert resolve(_scenario(), "acme", "u").rerank_rules() == []


def test_default_scenario_is_valid_and_complete() -> None:
    scenario = default_scenario()
    assert scenario.scenario_id == "home"
    assert {c.name for c in scenario.channels} == {
        "hot",
        "latest",
        "item_cf",
        "user_cf",
        "als",
        "ease",
        "two_tower",
        "tag",
        "content",
    }
    assert scenario.ranker == "fusion"
    assert {r.type for r in scenario.rules} == {"mmr", "freshness", "exclude_seen"}
    assert Scenario.model_validate_json(scenario.model_dump_json()) == scenario
