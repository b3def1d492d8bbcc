"""Retention settings (apps/shared/settings.py, apps/events/settings.py): served lists are kept as long as events
unless told otherwise, and count retention is refused when a coarser level would go before a finer one."""

from __future__ import annotations

import pytest

from apps.events.settings import EventsSettings
from apps.shared.settings import LemoSettings


def test_served_lists_are_kept_as_long_as_events_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEMO_EXPOSURE_RETENTION_DAYS", raising=False)
    monkeypatch.setenv("LEMO_ARCHIVE_RETENTION_DAYS", "30")
    assert LemoSettings().exposure_retention_days == 30
    monkeypatch.setenv("LEMO_EXPOSURE_RETENTION_DAYS", "7")
    assert LemoSettings().exposure_retention_days == 7


def test_count_retention_comes_from_the_settings_in_days(monkeypatch: pytest.MonkeyPatch) -> None:
    for level in ("MINUTE", "HOUR", "DAY"):
        monkeypatch.delenv(f"EVENTS_COUNT_{level}_RETENTION_DAYS", raising=False)
    defaults = EventsSettings().count_retention()
    assert (defaults.minute_s, defaults.hour_s, defaults.day_s) == (8 * 86400, 100 * 86400, 1098 * 86400)
    monkeypatch.setenv("EVENTS_COUNT_MINUTE_RETENTION_DAYS", "2")
    assert EventsSettings().count_retention().minute_s == 2 * 86400
    monkeypatch.setenv("EVENTS_COUNT_HOUR_RETENTION_DAYS", "1")  # hours gone before the minutes: refused
    with pytest.raises(ValueError):
        EventsSettings().count_retention()
