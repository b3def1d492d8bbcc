"""apps/feeds/refresher.py's budget for event-triggered refreshes: a token bucket of refresh_max_per_s."""

from __future__ import annotations

from typing import Any

import pytest

from apps.feeds import refresher
from apps.feeds.refresher import Refresher
from apps.feeds.settings import FeedsSettings


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refresher(rate: float, monkeypatch: pytest.MonkeyPatch) -> tuple[Refresher, Clock]:
    clock = Clock()
    monkeypatch.setattr(refresher.time, "monotonic", clock)
    none: Any = None
    return Refresher(none, none, none, FeedsSettings(refresh_max_per_s=rate)), clock


def test_a_burst_gets_one_seconds_worth_then_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    refresher, clock = _refresher(2.0, monkeypatch)
    users = [("t", f"u{n}") for n in range(5)]
    assert refresher._within_budget(users) == users[:2]
    assert refresher._within_budget(users) == []
    clock.now += 1.0
    assert refresher._within_budget(users) == users[:2]
    clock.now += 60.0  # an idle minute refills one second's worth, no more
    assert len(refresher._within_budget(users)) == 2


def test_zero_means_no_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    refresher, _ = _refresher(0.0, monkeypatch)
    users = [("t", f"u{n}") for n in range(500)]
    assert refresher._within_budget(users) == users
