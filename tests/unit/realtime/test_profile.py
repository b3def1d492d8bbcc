from __future__ import annotations

import json

from lemo.events import Event
from lemo.realtime.profile import RECENT_ITEMS, SEEN_EVENT_IDS, RealtimeProfile


def _event(item: str, n: int, type_: str = "click") -> Event:
    return Event(tenant_id="t", user_id="u", item_id=item, type=type_, event_id=f"e{n}", timestamp=1000.0 + n)


def test_apply_counts_orders_and_dedupes() -> None:
    profile = RealtimeProfile()
    assert profile.apply(_event("a", 1)) is True
    assert profile.apply(_event("b", 2, "like")) is True
    assert profile.apply(_event("a", 3)) is True  # a again: moves to the front
    assert profile.apply(_event("a", 1)) is False  # redelivery of e1
    view = profile.public_view()
    assert view["recent_items"] == ["a", "b"]
    assert view["type_counts"] == {"click": 2, "like": 1}
    assert view["last_active"] == 1003.0


def test_state_stays_bounded() -> None:
    profile = RealtimeProfile()
    for n in range(1000):
        profile.apply(_event(f"item-{n}", n))
    assert len(profile.recent_items) == RECENT_ITEMS
    assert len(profile.seen_event_ids) == SEEN_EVENT_IDS
    assert profile.public_view()["recent_items"][0] == "item-999"
    assert len(json.dumps(profile.model_dump())) < 8192
