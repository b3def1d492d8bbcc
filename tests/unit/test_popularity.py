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
