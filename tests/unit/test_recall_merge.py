"""Merging recall channels: quotas, exclusions, dedupe with every source kept, rank-based fusion."""

from __future__ import annotations

import pytest

from lemo.recall_merge import RRF_K, ChannelOutcome, merge_channels
from lemo.scenarios import ChannelConfig


def _configs(*channels: ChannelConfig) -> dict[str, ChannelConfig]:
    return {c.name: c for c in channels}


def test_an_item_found_by_two_channels_appears_once_with_both_sources() -> None:
    results = {
        "item_cf": [("a", 12.0), ("b", 9.0)],
        "als": [("b", 0.91), ("c", 0.55)],
    }
    merged = merge_channels(results, _configs(ChannelConfig(name="item_cf"), ChannelConfig(name="als")), (), 10)
    assert [m.item_id for m in merged] == ["b", "a", "c"]
    b = merged[0]
    assert b.sources["item_cf"].score == 9.0 and b.sources["item_cf"].rank == 1
    assert b.sources["als"].score == 0.91 and b.sources["als"].rank == 0
    assert b.source_scores() == {"item_cf": 9.0, "als": 0.91}
    assert b.score == pytest.approx(1.0 + RRF_K / (RRF_K + 1))


def test_raw_score_scales_do_not_matter_only_ranks_and_weights() -> None:
    results = {"item_cf": [("big", 1e6)], "als": [("small", 1e-6)]}
    configs = _configs(ChannelConfig(name="item_cf", weight=1.0), ChannelConfig(name="als", weight=2.0))
    merged = merge_channels(results, configs, (), 10)
    assert [m.item_id for m in merged] == ["small", "big"]
    assert [m.score for m in merged] == [pytest.approx(2.0), pytest.approx(1.0)]


def test_channel_lists_are_ordered_by_score_and_deduped_within_a_channel() -> None:
    results = {"hot": [("x", 1.0), ("y", 5.0), ("x", 0.5)]}
    merged = merge_channels(results, _configs(ChannelConfig(name="hot")), (), 10)
    assert [(m.item_id, m.sources["hot"].rank) for m in merged] == [("y", 0), ("x", 1)]
    assert merged[1].sources["hot"].score == 1.0


def test_quota_caps_each_channel_after_exclusions() -> None:
    results = {
        "hot": [(f"h{i}", 100.0 - i) for i in range(10)],
        "latest": [(f"l{i}", 100.0 - i) for i in range(10)],
    }
    configs = _configs(ChannelConfig(name="hot", quota=3), ChannelConfig(name="latest", quota=2))
    merged = merge_channels(results, configs, exclude={"h0", "h1"}, limit=100)
    ids = {m.item_id for m in merged}
    assert ids == {"h2", "h3", "h4", "l0", "l1"}
    # Ranks count only what the channel contributed, so the first kept item is rank 0.
    assert next(m for m in merged if m.item_id == "h2").sources["hot"].rank == 0


def test_excluded_items_never_appear() -> None:
    results = {"hot": [("seen", 9.0), ("new", 1.0)], "als": [("seen", 0.9)]}
    merged = merge_channels(results, _configs(ChannelConfig(name="hot"), ChannelConfig(name="als")), ["seen"], 10)
    assert [m.item_id for m in merged] == ["new"]


def test_unconfigured_and_disabled_channels_are_ignored() -> None:
    results = {"hot": [("a", 1.0)], "als": [("b", 1.0)], "tag": [("c", 1.0)]}
    configs = _configs(ChannelConfig(name="hot"), ChannelConfig(name="als", enabled=False))
    assert [m.item_id for m in merge_channels(results, configs, (), 10)] == ["a"]


def test_limit_cuts_the_merged_list_best_first() -> None:
    results = {"hot": [(f"i{i}", 10.0 - i) for i in range(20)]}
    merged = merge_channels(results, _configs(ChannelConfig(name="hot")), (), 5)
    assert [m.item_id for m in merged] == ["i0", "i1", "i2", "i3", "i4"]
    assert merge_channels(results, _configs(ChannelConfig(name="hot")), (), 0) == []


def test_ties_break_deterministically() -> None:
    results = {"hot": [("b", 1.0)], "latest": [("a", 1.0)]}
    configs = _configs(ChannelConfig(name="hot"), ChannelConfig(name="latest"))
    assert [m.item_id for m in merge_channels(results, configs, (), 10)] == ["a", "b"]


def test_channel_outcome_reports_failures() -> None:
    outcome = ChannelOutcome(name="two_tower", ok=False, ms=80.0, error="deadline exceeded")
    assert (outcome.ok, outcome.count, outcome.error) == (False, 0, "deadline exceeded")
