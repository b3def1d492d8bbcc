from __future__ import annotations

import pytest

from lemo.popularity import Interaction, popular_items

DAY = 86400.0


def test_weights_decay_and_order() -> None:
    now = 100 * DAY
    interactions = [
        Interaction("fresh", "click", now),
        Interaction("fresh", "click", now),
        Interaction("old", "purchase", now - 7 * DAY),  # 5 halved once = 2.5
        Interaction("ignored", "impression", now),
        Interaction("disliked", "dislike", now),
        Interaction("disliked", "click", now),
    ]
    ranked = popular_items(interactions, now=now, half_life_s=7 * DAY, limit=10)
    assert [p.item_id for p in ranked] == ["old", "fresh"]
    assert ranked[0].score == pytest.approx(2.5)
    assert popular_items(interactions, now=now, half_life_s=7 * DAY, limit=1)[0].item_id == "old"


def test_ties_break_by_item_id() -> None:
    ranked = popular_items([Interaction("b", "view", 0), Interaction("a", "view", 0)], now=0, half_life_s=1, limit=5)
    assert [p.item_id for p in ranked] == ["a", "b"]


def test_popularity_runs_again_only_for_tenants_that_changed_or_aged() -> None:
    from lemo.popularity import popularity_due

    computed = {"fresh": 1000.0, "moved": 1000.0, "old": 1000.0 - 90_000}
    archived = {"fresh": 900.0, "moved": 1001.0, "new": 950.0}
    due = popularity_due(["fresh", "moved", "old", "new", "never"], computed, archived, now=1500.0, max_age_s=86_400)
    assert due == ["moved", "old", "new", "never"]
