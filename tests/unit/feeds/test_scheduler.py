"""The feeds app's debounce and workflow instance ids (apps/feeds/scheduler.py)."""

from __future__ import annotations

import re

from apps.feeds.scheduler import Debouncer, instance_id_for
from workflows.recommend import RecommendRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_event_refreshes_now_and_the_rest_of_the_window_folds_into_one_refresh_at_its_end() -> None:
    clock = Clock()
    debounce = Debouncer(30.0, clock)
    key = ("t1", "u1", "home")
    assert debounce.delay(key) == 0.0
    clock.now += 5
    assert debounce.delay(key) == 25.0  # one trailing refresh when the window ends
    clock.now += 5
    assert debounce.delay(key) is None  # the pending refresh will see this event too
    clock.now += 25  # the trailing refresh ran at 1030; the next window runs to 1060
    assert debounce.delay(key) == 25.0
    clock.now += 60
    assert debounce.delay(key) == 0.0  # quiet for longer than a window: at once again


def test_keys_are_independent_and_bounded() -> None:
    clock = Clock()
    debounce = Debouncer(30.0, clock, max_keys=2)
    assert debounce.delay(("t1", "u1", "home")) == 0.0
    assert debounce.delay(("t2", "u1", "home")) == 0.0  # another tenant's user of the same id
    assert debounce.delay(("t1", "u1", "item")) == 0.0  # another scenario
    assert debounce.delay(("t1", "u1", "home")) == 0.0  # the oldest key was forgotten (bounded memory)


def test_instance_ids_are_unique_readable_and_valid_for_dapr() -> None:
    request = RecommendRequest(tenant_id="acme", user_id="user@example.com:" + "x" * 100, scenario_id="home")
    first, second = instance_id_for(request), instance_id_for(request)
    assert first != second
    assert first.startswith("feed-acme-home-user_example_com")
    assert len(first) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", first)
