from __future__ import annotations

import json

import pytest

from lemo.events import Event
from lemo.realtime.profile import INTEREST_HALF_LIFE_S, RECENT_ITEMS, SEEN_EVENT_IDS, RealtimeProfile, interest_keys

T0 = 1_700_000_000.0


def _event(item: str, n: int, type_: str = "click", ts: float | None = None, value: float | None = None) -> Event:
    return Event(
        tenant_id="t",
        user_id="u",
        item_id=item,
        type=type_,
        event_id=f"e{n}",
        timestamp=ts if ts is not None else T0 + n,
        value=value,
    )


def test_apply_counts_orders_and_dedupes() -> None:
    profile = RealtimeProfile()
    assert profile.apply(_event("a", 1), ["c:drama"]) is True
    assert profile.apply(_event("b", 2, "like"), ["c:comedy"]) is True
    assert profile.apply(_event("a", 3), ["c:drama"]) is True  # a again: moves to the front
    before = profile.model_dump()
    assert profile.apply(_event("a", 1), ["c:drama"]) is False  # redelivery of e1
    assert profile.model_dump() == before
    view = profile.public_view(T0 + 10)
    assert view["recent_items"] == ["a", "b"]
    assert view["type_counts"] == {"click": 2, "like": 1}
    assert view["last_active"] == T0 + 3
    assert view["window_1h"] == {"c:drama": 2, "c:comedy": 1}
    assert list(view["interests"]) == ["c:comedy", "c:drama"]  # a like weighs 3, two clicks 2


def test_window_slides_and_interests_decay() -> None:
    profile = RealtimeProfile()
    profile.apply(_event("a", 1, ts=T0), ["c:old"])
    profile.apply(_event("b", 2, ts=T0 + 2 * 3600), ["c:new"])
    assert profile.window_counts(T0 + 2 * 3600) == {"c:new": 1}
    later = profile.interests_at_time(T0 + 2 * 3600 + INTEREST_HALF_LIFE_S)
    assert later["c:new"] == pytest.approx(0.5, abs=1e-3)


def test_ratings_push_interest_up_or_down_impressions_do_nothing() -> None:
    profile = RealtimeProfile()
    profile.apply(_event("a", 1, "rate", value=5), ["c:loved"])
    profile.apply(_event("b", 2, "rate", value=1), ["c:hated"])
    profile.apply(_event("c", 3, "impression"), ["c:seen"])
    interests = profile.interests_at_time(T0 + 3)
    assert interests["c:loved"] > 0 > interests["c:hated"]
    assert "c:seen" not in interests and "c" not in profile.recent


def test_state_stays_under_one_kilobyte() -> None:
    profile = RealtimeProfile()
    genres = [
        "Action",
        "Adventure",
        "Animation",
        "Children's",
        "Comedy",
        "Crime",
        "Documentary",
        "Drama",
        "Fantasy",
        "Film-Noir",
        "Horror",
        "Musical",
        "Mystery",
        "Romance",
        "Sci-Fi",
        "Thriller",
        "War",
    ]
    for n in range(200):
        keys = interest_keys([genres[n % len(genres)], genres[(n * 7) % len(genres)]], [])
        profile.apply(_event(str(1000 + n), n, "rate", ts=T0 + n * 60, value=1 + n % 5), keys)
    assert len(profile.recent) == RECENT_ITEMS
    assert len(profile.seen) == SEEN_EVENT_IDS
    size = len(json.dumps(profile.model_dump(mode="json"), separators=(",", ":")))
    assert size <= 1024, size
