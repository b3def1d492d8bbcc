from __future__ import annotations

import json

import pytest

from lemo.events import Event
from lemo.exposures import Exposure
from lemo.realtime.dedupe import GENERATION, digest
from lemo.realtime.profile import INTEREST_HALF_LIFE_S, RECENT_ITEMS, SHOWN_ITEMS, RealtimeProfile, interest_keys

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
        accepted_at=T0 + 1000.123456 + n,  # as the events app stamps it (microseconds)
    )


def _list(n: int, items: list[str], ts: float | None = None) -> Exposure:
    return Exposure(
        request_id=f"r{n}", tenant_id="t", user_id="u", scenario="home", items=items, timestamp=ts or T0 + 1000 + n
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
    sizes: list[int] = []
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
        if n % 10 == 0:  # a list served every ten events, with ids like the events'
            profile.apply_exposure(_list(n, [str(2000 + n + k) for k in range(10)]))
        sizes.append(len(json.dumps(profile.model_dump(mode="json"), separators=(",", ":"))))
    assert len(profile.recent) == RECENT_ITEMS and len(profile.shown) == SHOWN_ITEMS
    assert len(profile.seen) >= GENERATION
    assert max(sizes) <= 1024, max(sizes)  # at every step, whatever the dedupe generations hold


def test_a_redelivery_after_a_hundred_newer_events_changes_nothing() -> None:
    profile = RealtimeProfile()
    first = _event("a", 0)
    assert profile.apply(first, ["c:drama"]) is True
    for n in range(1, 101):
        assert profile.apply(_event(f"i{n}", n), ["c:comedy"]) is True
    before = profile.model_dump()
    assert profile.apply(first, ["c:drama"]) is False  # long forgotten by id, but below the floor
    assert profile.model_dump() == before
    assert profile.types == {"click": 101}


def test_a_backfill_of_old_history_in_any_order_is_taken_whole() -> None:
    # Client event times run backwards (a file of 1998 ratings in no order); the acceptance stamps run forwards.
    profile = RealtimeProfile()
    for n in range(300):
        assert profile.apply(_event(str(n), n, "rate", ts=T0 - 86400 * (n % 37), value=4), []) is True
    assert profile.types == {"rate": 300}


def test_served_lists_are_shown_items_once_each_and_never_interest() -> None:
    profile = RealtimeProfile()
    profile.apply(_event("a", 1), ["c:drama"])
    before = profile.model_dump(exclude={"shown", "seen"})
    assert profile.apply_exposure(_list(1, ["x", "y", "z"])) is True
    assert profile.apply_exposure(_list(2, ["w", "x"])) is True
    assert profile.shown == ["w", "x", "y", "z"]  # newest list first, each in served order
    assert profile.apply_exposure(_list(1, ["x", "y", "z"])) is False  # the same list redelivered
    assert profile.shown == ["w", "x", "y", "z"]
    assert profile.model_dump(exclude={"shown", "seen"}) == before  # no interest, counts, recent items
    view = profile.public_view(T0 + 2000)
    assert view["shown_items"] == ["w", "x", "y", "z"]
    assert view["recent_items"] == ["a"] and view["type_counts"] == {"click": 1}


def test_state_written_with_a_list_of_digests_still_loads_and_dedupes() -> None:
    old = RealtimeProfile()
    old.apply(_event("a", 1), [])
    legacy = {**old.model_dump(mode="json"), "seen": [digest("e1").hex(), "00000000"]}  # as earlier versions stored
    profile = RealtimeProfile.model_validate(legacy)
    assert len(profile.seen) == 2
    assert profile.apply(_event("a", 1), []) is False
    assert profile.apply(_event("b", 2), []) is True
    assert RealtimeProfile.model_validate(profile.model_dump(mode="json")) == profile  # and round-trips as written
