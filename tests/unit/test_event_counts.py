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
        "t|m|2026013123", "t|m|2026013123",  # 23:58, 23:59 of Jan 31
        "t|M", "t|M",  # February, March
        "t|d|202604",  # April 1
        "t|h|20260402",  # 00:00-01:00 on April 2
        "t|m|2026040201",  # 01:00
    ]  # fmt: skip
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
