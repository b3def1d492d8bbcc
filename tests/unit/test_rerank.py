"""The rerank rule chain: each rule's effect on a planted list, pins through the chain, the default chain."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import pytest

from lemo.rerank import (
    BoostRuleConfig,
    Candidate,
    CategoryCapRuleConfig,
    ExcludeSeenRuleConfig,
    FilterRuleConfig,
    FreshnessRuleConfig,
    MMRRuleConfig,
    Pin,
    PinRuleConfig,
    RerankContext,
    RuleConfig,
    apply_rules,
    build_rule,
)
from lemo.scenarios import default_scenario

NOW = 1_800_000_000.0
DAY = 86_400.0


def _ids(candidates: Sequence[Candidate]) -> list[str]:
    return [c.item_id for c in candidates]


def _ctx(
    count: int = 10, seen: AbstractSet[str] = frozenset(), pinned_items: Mapping[str, Candidate] | None = None
) -> RerankContext:
    return RerankContext(now=NOW, count=count, seen=seen, pinned_items=pinned_items or {})


def _ranked(*cats: str) -> list[Candidate]:
    """Items i0, i1, ... in descending score, item i having the category cats[i]."""
    return [Candidate(item_id=f"i{i}", score=1.0 - i * 0.01, categories=(c,)) for i, c in enumerate(cats)]


def _planted() -> list[Candidate]:
    # The eight best items are all "drama"; eight other categories only further down.
    return _ranked(*(["drama"] * 8 + ["comedy", "horror", "docs", "kids", "news", "sport", "music", "travel"]))


def _max_category_count(candidates: Sequence[Candidate]) -> int:
    return max(Counter(cat for c in candidates for cat in c.categories).values())


def test_mmr_reduces_category_repetition_in_the_top_10_and_keeps_the_top_item() -> None:
    planted = _planted()
    assert _max_category_count(planted[:10]) == 8
    out, _ = apply_rules(planted, [MMRRuleConfig(lambda_=0.5)], _ctx(count=10))
    assert out[0].item_id == "i0"
    assert _max_category_count(out[:10]) <= 3
    assert len(set(_ids(out))) == 10


def test_mmr_with_lambda_one_is_pure_score_order() -> None:
    planted = _planted()
    out, _ = apply_rules(planted, [MMRRuleConfig(lambda_=1.0)], _ctx(count=10))
    assert _ids(out) == _ids(planted[:10])


def test_mmr_keeps_every_item_and_score_order_past_the_window() -> None:
    planted = _planted()
    out = build_rule(MMRRuleConfig(lambda_=0.3, window=4)).apply(planted, _ctx(count=4))
    assert sorted(_ids(out)) == sorted(_ids(planted))
    rest = out[4:]
    assert [c.score for c in rest] == sorted((c.score for c in rest), reverse=True)


def test_mmr_by_embedding_spreads_near_duplicates() -> None:
    rng = np.random.default_rng(0)
    axes = np.eye(16)
    # Items e0-e5 are near-copies of one direction; e6-e8 are orthogonal to it and to each other; no categories.
    vectors = [axes[0] + rng.normal(scale=0.01, size=16) for _ in range(6)] + [axes[1], axes[2], axes[3]]
    items = [
        Candidate(item_id=f"e{i}", score=1.0 - i * 0.01, embedding=v.astype(np.float32)) for i, v in enumerate(vectors)
    ]
    by_embedding, _ = apply_rules(items, [MMRRuleConfig(lambda_=0.5, by="embedding")], _ctx(count=4))
    assert by_embedding[0].item_id == "e0"
    assert _ids(by_embedding) == ["e0", "e6", "e7", "e8"]
    # The same rule falls back to categories when an embedding is missing: none here, so score order.
    items[3] = Candidate(item_id="e3", score=items[3].score)
    fallback, _ = apply_rules(items, [MMRRuleConfig(lambda_=0.5, by="embedding")], _ctx(count=4))
    assert _ids(fallback) == ["e0", "e1", "e2", "e3"]


def test_freshness_puts_a_new_item_ahead_of_a_slightly_better_old_one() -> None:
    old = Candidate(item_id="old", score=1.0, published_at=NOW - 30 * DAY)
    new = Candidate(item_id="new", score=0.9, published_at=NOW - 60)
    undated = Candidate(item_id="undated", score=0.95)
    out, _ = apply_rules([old, undated, new], [FreshnessRuleConfig(half_life_hours=24, boost=0.5)], _ctx())
    assert _ids(out) == ["new", "old", "undated"]
    assert out[2].score == 0.95


def test_freshness_boost_halves_every_half_life() -> None:
    item = Candidate(item_id="a", score=2.0, published_at=NOW - 10 * 3600)
    out, _ = apply_rules([item], [FreshnessRuleConfig(half_life_hours=10, boost=1.0)], _ctx())
    assert out[0].score == pytest.approx(2.0 * 1.5)


def test_filter_includes_and_excludes_categories_and_matches_attributes() -> None:
    items = [
        Candidate(item_id="a", score=0.9, categories=("news",), attributes={"lang": "en"}),
        Candidate(item_id="b", score=0.8, categories=("news", "adult"), attributes={"lang": "en"}),
        Candidate(item_id="c", score=0.7, categories=("sport",), attributes={"lang": "en"}),
        Candidate(item_id="d", score=0.6, categories=("news",), attributes={"lang": "de"}),
        Candidate(item_id="e", score=0.5, categories=("news",), attributes={"lang": ["de", "en"]}),
    ]
    include = FilterRuleConfig(include_categories=["news"])
    assert _ids(apply_rules(items, [include], _ctx())[0]) == ["a", "b", "d", "e"]
    exclude = FilterRuleConfig(exclude_categories=["adult"])
    assert _ids(apply_rules(items, [exclude], _ctx())[0]) == ["a", "c", "d", "e"]
    both = FilterRuleConfig(include_categories=["news"], exclude_categories=["adult"], attribute_equals={"lang": "en"})
    out, effects = apply_rules(items, [both], _ctx())
    assert _ids(out) == ["a", "e"]
    assert effects[0].removed == ("b", "c", "d")


def test_boost_lifts_matching_items_and_demotes_with_a_factor_below_one() -> None:
    items = [
        Candidate(item_id="a", score=1.0),
        Candidate(item_id="b", score=0.8, tags=("promo",)),
        Candidate(item_id="c", score=0.7, attributes={"brand": "acme"}),
    ]
    out, _ = apply_rules(items, [BoostRuleConfig(factor=2.0, tags=["promo"])], _ctx())
    assert _ids(out) == ["b", "a", "c"]
    assert out[0].score == pytest.approx(1.6)
    out, _ = apply_rules(items, [BoostRuleConfig(factor=0.5, attribute_equals={"brand": "acme"})], _ctx())
    assert out[-1].score == pytest.approx(0.35)
    # A negative score is hurt by a demotion too.
    negative = [Candidate(item_id="n", score=-1.0, tags=("x",)), Candidate(item_id="m", score=-1.5)]
    out, _ = apply_rules(negative, [BoostRuleConfig(factor=0.5, tags=["x"])], _ctx())
    assert _ids(out) == ["m", "n"]


def test_pins_land_at_their_slots() -> None:
    items = _ranked(*"abcdefghij")
    lookup = {"ext": Candidate(item_id="ext", score=0.0)}
    rule = PinRuleConfig(pins=[Pin(item_id="i7", slot=0), Pin(item_id="ext", slot=3), Pin(item_id="ghost", slot=4)])
    out, effects = apply_rules(items, [rule], _ctx(count=6, pinned_items=lookup))
    assert _ids(out) == ["i7", "i0", "i1", "ext", "i2", "i3"]
    assert set(effects[0].pinned) == {"i7", "ext"}


def test_pins_survive_later_reordering_rules_but_not_removal() -> None:
    items = [Candidate(item_id=f"i{i}", score=1.0 - i * 0.1, categories=("x",)) for i in range(6)]
    items.append(Candidate(item_id="fresh", score=0.1, published_at=NOW, categories=("y",)))
    chain: list[RuleConfig] = [
        PinRuleConfig(pins=[Pin(item_id="i5", slot=1), Pin(item_id="i4", slot=2)]),
        FreshnessRuleConfig(half_life_hours=1, boost=50),
        BoostRuleConfig(factor=100, categories=["x"]),
        MMRRuleConfig(lambda_=0.2),
        CategoryCapRuleConfig(max_per_category=1, top_k=4),
        ExcludeSeenRuleConfig(),
    ]
    out, _ = apply_rules(items, chain, _ctx(count=5, seen={"i4"}))
    assert out[1].item_id == "i5"
    assert "i4" not in _ids(out)


@pytest.mark.parametrize(
    "later",
    [
        FreshnessRuleConfig(half_life_hours=1, boost=1),
        BoostRuleConfig(factor=2, tags=["t"]),
        MMRRuleConfig(lambda_=0.5),
        CategoryCapRuleConfig(max_per_category=1, top_k=3),
    ],
    ids=lambda rule: rule.type,
)
def test_each_reordering_rule_leaves_a_pin_at_its_slot(later: RuleConfig) -> None:
    # Unpinned, each of these rules would move "p" down: lowest score, not fresh, not tagged, a repeated category.
    items = [
        Candidate(item_id=f"i{i}", score=1.0 - i * 0.1, categories=(cat,), tags=("t",), published_at=NOW)
        for i, cat in enumerate("xyzw")
    ]
    items.append(Candidate(item_id="p", score=0.1, categories=("x",)))
    pin = PinRuleConfig(pins=[Pin(item_id="p", slot=2)])
    out, _ = apply_rules(items, [pin, later], _ctx(count=5))
    assert _ids(out)[2] == "p"
    assert sorted(_ids(out)) == sorted(_ids(items))


def test_a_later_pin_on_the_same_slot_wins() -> None:
    items = _ranked(*"abcde")
    first = PinRuleConfig(pins=[Pin(item_id="i3", slot=0)])
    second = PinRuleConfig(pins=[Pin(item_id="i4", slot=0)])
    out, _ = apply_rules(items, [first, second], _ctx(count=5))
    assert out[0].item_id == "i4"
    assert sorted(_ids(out)) == sorted(_ids(items))


def test_category_cap_holds_in_the_top_k() -> None:
    planted = _planted()
    out, effects = apply_rules(planted, [CategoryCapRuleConfig(max_per_category=2, top_k=6)], _ctx(count=16))
    assert _max_category_count(out[:6]) <= 2
    assert _ids(out[:2]) == ["i0", "i1"]
    assert len(out) == 16  # over-cap items move down, they are not lost
    assert effects[0].moved


def test_strict_category_cap_drops_and_loose_cap_fills() -> None:
    same = _ranked(*(["drama"] * 5))
    strict, _ = apply_rules(same, [CategoryCapRuleConfig(max_per_category=2, strict=True)], _ctx(count=5))
    assert _ids(strict) == ["i0", "i1"]
    loose, _ = apply_rules(same, [CategoryCapRuleConfig(max_per_category=2)], _ctx(count=5))
    assert len(loose) == 5


def test_exclude_seen_removes_the_users_items() -> None:
    items = _ranked(*"abcd")
    out, effects = apply_rules(items, [ExcludeSeenRuleConfig()], _ctx(seen={"i1", "i3", "other"}))
    assert _ids(out) == ["i0", "i2"]
    assert effects[0].removed == ("i1", "i3")


def test_the_chain_cuts_to_count_and_reports_each_rule() -> None:
    planted = _planted()
    rules = default_scenario().rules
    out, effects = apply_rules(planted, rules, _ctx(count=5, seen={"i0"}))
    assert len(out) == 5 and "i0" not in _ids(out)
    assert [e.rule for e in effects] == [r.type for r in rules]


def test_default_chain_over_500_candidates_returns_unique_unseen_items() -> None:
    rng = np.random.default_rng(7)
    categories = [f"c{i}" for i in range(12)]
    candidates = [
        Candidate(
            item_id=f"item{i}",
            score=float(s),
            categories=tuple(rng.choice(categories, size=2, replace=False)),
            published_at=NOW - float(rng.uniform(0, 60)) * DAY,
        )
        for i, s in enumerate(sorted(rng.random(500), reverse=True))
    ]
    seen = {f"item{i}" for i in range(0, 500, 3)}
    out, _ = apply_rules(candidates, default_scenario().rules, _ctx(count=50, seen=seen))
    assert len(out) == 50
    assert len(set(_ids(out))) == 50
    assert not set(_ids(out)) & seen


def test_context_rejects_a_non_positive_count() -> None:
    with pytest.raises(ValueError, match="count"):
        RerankContext(now=NOW, count=0)
