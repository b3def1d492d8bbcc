"""Beyond-accuracy metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from lemo.evaluation.beyond import beyond_accuracy, intra_list_diversity, novelty, popularity_bias

POPULARITY = {"a": 8.0, "b": 4.0, "c": 1.0, "d": 0.0}  # train users per item, of 16 users


def test_novelty_is_the_mean_self_information_of_recommended_items() -> None:
    # list 1: -log2(8/16) = 1, -log2(4/16) = 2 -> 1.5; list 2: -log2(1/16) = 4, cold d counts as 1 user -> 4
    assert novelty([["a", "b"], ["c", "d"]], POPULARITY, 16) == pytest.approx((1.5 + 4.0) / 2)
    assert novelty([[]], POPULARITY, 16) == 0.0


def test_intra_list_diversity_is_the_mean_category_distance_of_pairs() -> None:
    categories = {"a": ["x"], "b": ["x", "y"], "c": ["z"], "d": []}
    # (a,b) 1 - 1/2 = 0.5, (a,c) 1, (b,c) 1 -> 2.5 / 3; list 2: (a,d) 1 - 0/1 = 1
    assert intra_list_diversity([["a", "b", "c"], ["a", "d"]], categories) == pytest.approx((2.5 / 3 + 1.0) / 2)
    # two items without categories say nothing
    assert intra_list_diversity([["d", "e"]], categories) is None


def test_popularity_bias_compares_lists_with_what_users_consumed() -> None:
    arp, lift = popularity_bias([["a", "b"], ["a", "c"]], [{"c"}, {"b", "c"}], POPULARITY)
    assert arp == pytest.approx((6.0 + 4.5) / 2)
    assert lift == pytest.approx(5.25 / 2.0)  # consumed: c 1, b 4, c 1 -> mean 2


def test_beyond_accuracy_cuts_lists_at_k_and_omits_diversity_without_categories() -> None:
    metrics = beyond_accuracy([["a", "c", "b"]], [{"b"}], 2, POPULARITY, 16, {})
    assert set(metrics) == {"novelty", "arp", "popularity_lift"}
    assert metrics["novelty"] == pytest.approx((1.0 + 4.0) / 2)
    assert metrics["arp"] == pytest.approx(4.5) and metrics["popularity_lift"] == pytest.approx(4.5 / 4.0)
    assert not math.isnan(metrics["novelty"])


def test_temporal_split_holds_out_each_users_newest_quarter() -> None:
    from lemo.models import Interaction, TrainingData

    events = [Interaction("u1", f"i{n}", "click", None, float(100 - n)) for n in range(8)]  # i7 is the oldest
    events += [Interaction("u2", "i0", "click", None, 5.0)]  # one pair: stays in train
    train, test = TrainingData.build(events).temporal_split(0.25)
    assert sorted(test.item_ids[c] for c in test.cols) == ["i0", "i1"]  # u1's two newest
    assert sorted(train.user_ids[r] for r in train.rows).count("u2") == 1
    assert len(train.rows) == 7
