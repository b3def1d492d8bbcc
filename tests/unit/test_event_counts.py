"""lemo/event_counts.py: any window is the exact sum of a few pre-aggregated cells, at minute resolution."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from lemo import event_counts


def _ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[arg-type, misc]


def _store(events: list[tuple[str, str, float]]) -> dict[str, dict[str, dict[str, int]]]:
    """What `$inc` of the increments leaves in the documents: doc_id -> unit -> type -> count."""
    docs: dict[str, dict[str, dict[str, int]]] = {}
    for doc_id, fields in event_counts.increments(events).items():
        for path, n in fields.items():
            unit, event_type = path.split(".")
            cell = docs.setdefault(doc_id, {}).setdefault(unit, {})
            cell[event_type] = cell.get(event_type, 0) + n
    return docs


def _brute(events: list[tuple[str, str, float]], tenant: str, since: float, until: float) -> dict[str, int]:
    lo, hi = since - since % 60, until - until % 60 + (60 if until % 60 else 0)
    return dict(Counter(t for tn, t, ts in events if tn == tenant and lo <= ts - ts % 60 < hi))


def test_every_window_matches_a_count_of_the_events_themselves() -> None:
    rng = random.Random(7)
    start, end = _ts(2025, 11, 20), _ts(2026, 3, 10)
    events = [
        (rng.choice(["a", "b"]), rng.choice(["click", "view", "like"]), rng.uniform(start, end)) for _ in range(3000)
    ]
    docs = _store(events)
    for _ in range(300):
        since, until = sorted(rng.uniform(start - 86400 * 40, end + 86400) for _ in range(2))
        cells = event_counts.window_cells("a", since, until)
        assert event_counts.total(cells, docs) == _brute(events, "a", since, until)
        assert len({c.doc_id for c in cells}) <= 7  # whatever the window's length


def test_a_window_reads_whole_months_days_and_hours_where_they_fit() -> None:
    cells = event_counts.window_cells("t", _ts(2026, 1, 31, 23, 58), _ts(2026, 4, 2, 1, 1))
    assert [c.doc_id for c in cells] == [
        "t|m|2026013123",
        "t|m|2026013123",  # 23:58, 23:59 of Jan 31
        "t|M",
        "t|M",  # February, March
        "t|d|202604",  # April 1
        "t|h|20260402",  # 00:00-01:00 on April 2
        "t|m|2026040201",  # 01:00
    ]
    assert [c.unit for c in cells] == ["58", "59", "202602", "202603", "01", "00", "00"]


def test_a_window_ending_now_includes_the_current_minute() -> None:
    events = [("a", "click", _ts(2026, 1, 1, 12, 30, 10))]
    assert event_counts.total(
        event_counts.window_cells("a", _ts(2026, 1, 1, 12, 29, 40), events[0][2] + 1), _store(events)
    ) == {"click": 1}


def test_windows_are_per_tenant_and_empty_windows_count_nothing() -> None:
    events = [("a", "click", _ts(2026, 1, 1, 12)), ("b", "click", _ts(2026, 1, 1, 12))]
    docs = _store(events)
    day = event_counts.window_cells("a", _ts(2026, 1, 1), _ts(2026, 1, 2))
    assert event_counts.total(day, docs) == {"click": 1}
    assert event_counts.total(event_counts.window_cells("a", _ts(2026, 1, 2), _ts(2026, 1, 3)), docs) == {}
    assert event_counts.window_cells("a", _ts(2026, 1, 2), _ts(2026, 1, 2)) == []


DAY = 86400.0
RETENTION = event_counts.Retention(minute_s=8 * DAY, hour_s=100 * DAY, day_s=3 * 366 * DAY)


def test_each_level_expires_its_retention_after_the_span_its_document_covers() -> None:
    now = _ts(2026, 1, 1, 12, 30)
    # The minutes of 12:00-13:00 are one document: kept 8 days from 13:00, whatever minute was written.
    assert event_counts.expires_in("evcount:t|m|2026010112", now, RETENTION) == 8 * DAY + 1800
    assert event_counts.expires_in("t|h|20260101", now, RETENTION) == 100 * DAY + 11.5 * 3600
    assert event_counts.expires_in("xpcount:t|home|d|202601", now, RETENTION) == _ts(2026, 2, 1) + 3 * 366 * DAY - now
    assert event_counts.expires_in("t|M", now, RETENTION) is None  # months are kept
    assert event_counts.expires_in("t|home|M", now, RETENTION) is None
    # A late count for an hour whose minutes are gone: already past retention.
    assert event_counts.expires_in("t|m|2025122311", now, RETENTION) <= 0  # type: ignore[operator]
    assert event_counts.expires_in("t|m|2025122311", now, event_counts.KEEP_ALL) is None


def test_a_retention_shorter_for_coarser_buckets_is_refused() -> None:
    for minute_s, hour_s, day_s in ((9 * DAY, 8 * DAY, None), (DAY, None, 2 * DAY), (0.0, DAY, DAY)):
        try:
            event_counts.Retention(minute_s, hour_s, day_s)
        except ValueError:
            continue
        raise AssertionError((minute_s, hour_s, day_s))


def test_a_window_is_widened_at_each_end_to_the_finest_resolution_still_kept() -> None:
    now = _ts(2026, 6, 15, 9, 42, 30)

    def kept(since: float, until: float) -> tuple[datetime, datetime]:
        lo, hi = event_counts.kept_window(since, until, now, RETENTION)
        return datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)

    # Within the minute retention: to whole minutes, as without one.
    assert kept(_ts(2026, 6, 14, 10, 17, 5), now) == (
        datetime(2026, 6, 14, 10, 17, tzinfo=UTC),
        datetime(2026, 6, 15, 9, 43, tzinfo=UTC),
    )
    # 30 days back the minutes are gone: the start falls back to its hour.
    assert kept(_ts(2026, 5, 16, 10, 17), now)[0] == datetime(2026, 5, 16, 10, tzinfo=UTC)
    # 200 days back the hours are gone too: to its day, at both ends.
    assert kept(_ts(2025, 11, 27, 10, 17), _ts(2025, 11, 28, 3, 1)) == (
        datetime(2025, 11, 27, tzinfo=UTC),
        datetime(2025, 11, 29, tzinfo=UTC),
    )
    # Four years back only the month is left.
    assert kept(_ts(2022, 3, 5), _ts(2022, 3, 10)) == (
        datetime(2022, 3, 1, tzinfo=UTC),
        datetime(2022, 4, 1, tzinfo=UTC),
    )


def test_with_retention_every_window_counts_exactly_its_widened_span_from_documents_still_kept() -> None:
    rng = random.Random(11)
    now = _ts(2026, 6, 15, 9, 42, 30)
    start = _ts(2021, 12, 1)
    events = [("a", rng.choice(["click", "view"]), rng.uniform(start, now)) for _ in range(4000)]
    # Recent events are dense enough that minute and hour cells are exercised near `now` as well.
    events += [("a", "click", rng.uniform(now - 20 * DAY, now)) for _ in range(2000)]
    docs = {
        doc_id: doc
        for doc_id, doc in _store(events).items()
        if (left := event_counts.expires_in(doc_id, now, RETENTION)) is None or left > 0
    }
    for _ in range(400):
        since, until = sorted(rng.uniform(start, now) for _ in range(2))
        if rng.random() < 0.5:  # short windows, where the ends' resolution matters most
            until = min(now, since + rng.uniform(60, 3 * DAY))
        cells = event_counts.window_cells("a", since, until, now, RETENTION)
        expired = [
            c.doc_id
            for c in cells
            if (left := event_counts.expires_in(c.doc_id, now, RETENTION)) is not None and left <= 0
        ]
        assert not expired, (since, until, expired)
        lo, hi = event_counts.kept_window(since, until, now, RETENTION)
        assert lo <= since and hi >= until
        assert event_counts.total(cells, docs) == dict(Counter(t for _, t, ts in events if lo <= ts < hi))
        assert len({c.doc_id for c in cells}) <= 7
