"""lemo/experiments/counts.py: lists and the events that follow them land in the right slot and bucket, each list
is clicked or converted once, and what cannot be tied to a list counts as unattributed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from lemo import event_counts
from lemo.events import Event
from lemo.experiments import counts
from lemo.experiments.counts import (
    MAX_WAITING,
    NO_EXPERIMENT,
    UNATTRIBUTED,
    Entry,
    Interval,
    Served,
    Waiting,
    WaitingEvent,
    WindowError,
    entry_from_state,
)
from lemo.exposures import Exposure

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC).timestamp()


def _list(rid: str, user: str, variant: str | None, at: float, items: int = 10, tenant: str = "t1") -> Exposure:
    return Exposure(
        request_id=rid,
        tenant_id=tenant,
        user_id=user,
        scenario="home",
        experiment="ab" if variant else None,
        variant=variant,
        items=[f"i{k}" for k in range(items)],
        timestamp=at,
    )


def _event(user: str, kind: str, at: float, rid: str | None = None, scenario: str | None = None, **kw: Any) -> Event:
    context = {"request_id": rid} if rid else {}
    return Event(
        tenant_id=kw.get("tenant", "t1"),
        user_id=user,
        item_id="i1",
        type=kind,
        timestamp=at,
        scenario=scenario,
        context=context,
    )


class Store:
    """The state store's documents as SidecarEventCounts leaves them: doc_id -> unit -> field -> n."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict[str, int]]] = {}
        self.entries: dict[str, Entry] = {}

    def add(self, increments: counts.Increments) -> None:
        for doc_id, fields in increments.items():
            for path, n in fields.items():
                unit, field = path.split(".", 1)
                cell = self.docs.setdefault(doc_id, {}).setdefault(unit, {})
                cell[field] = cell.get(field, 0) + n

    def lists(self, exposures: list[Exposure]) -> None:
        increments, entries = counts.exposure_increments(exposures, self.entries)
        self.add(increments)
        self.entries.update(entries)

    def events(self, events: list[Event]) -> dict[str, Entry]:
        increments, changed = counts.event_increments(events, self.entries)
        self.add(increments)
        self.entries.update(changed)
        return changed

    def window(self, since: float, until: float, tenant: str = "t1") -> dict[str, dict[str, int]]:
        cells = event_counts.window_cells(counts.prefix(tenant, "home"), since, until)
        return counts.by_slot(event_counts.total(cells, self.docs))


def test_lists_and_their_events_count_for_the_variant_at_the_time_the_list_was_served() -> None:
    store = Store()
    store.lists([_list("r1", "u1", "a", T0), _list("r2", "u2", "b", T0 + 30, items=5), _list("r3", "u3", "a", T0)])
    # A click 2 hours later counts in the list's minute, not its own.
    store.events([_event("u1", "click", T0 + 7200, "r1"), _event("u1", "click", T0 + 7300, "r1")])
    store.events([_event("u1", "purchase", T0 + 7400, "r1"), _event("u2", "view", T0 + 60, "r2")])
    got = store.window(T0, T0 + 60)
    assert got == {
        "ab/a": {"lists": 2, "items": 20, "click": 2, "lists_clicked": 1, "purchase": 1, "lists_converted": 1},
        "ab/b": {"lists": 1, "items": 5, "view": 1},
    }
    assert store.window(T0 + 3600, T0 + 4 * 3600) == {}


def test_a_list_is_clicked_once_across_deliveries() -> None:
    store = Store()
    store.lists([_list("r1", "u1", "a", T0)])
    changed = store.events([_event("u1", "click", T0 + 5, "r1")])
    entry = changed[counts.entry_id("t1", "r1")]
    assert isinstance(entry, Served) and entry.clicked
    assert store.events([_event("u1", "click", T0 + 9, "r1")]) == {}  # already clicked: the entry stays as it is
    assert store.window(T0, T0 + 60)["ab/a"] == {"lists": 1, "items": 10, "click": 2, "lists_clicked": 1}


def test_what_cannot_be_tied_to_a_list_is_unattributed_in_the_scenario_it_names() -> None:
    store = Store()
    store.lists([_list("r1", "u1", "a", T0), _list("r9", "u9", "a", T0, tenant="t2")])
    store.events(
        [
            _event("u1", "click", T0 + 10, "nope", scenario="home"),  # unknown request id
            _event("u2", "click", T0 + 10, "r1", scenario="home"),  # another user's list
            _event("u9", "click", T0 + 10, "r9", scenario="home"),  # another tenant's list
            _event("u1", "like", T0 + 10, scenario="home"),  # no request id at all
            _event("u1", "click", T0 + 10, "nope"),  # names no scenario: counted nowhere here
        ]
    )
    assert store.window(T0, T0 + 60) == {"ab/a": {"lists": 1, "items": 10}, UNATTRIBUTED: {"click": 3, "like": 1}}
    assert store.window(T0, T0 + 60, tenant="t2") == {"ab/a": {"lists": 1, "items": 10}}


def test_lists_without_an_experiment_have_their_own_slot() -> None:
    store = Store()
    store.lists([_list("r1", "u1", None, T0)])
    store.events([_event("u1", "click", T0 + 1, "r1")])
    assert store.window(T0, T0 + 60) == {NO_EXPERIMENT: {"lists": 1, "items": 10, "click": 1, "lists_clicked": 1}}


def test_a_context_request_id_must_be_a_string() -> None:
    event = Event(tenant_id="t1", user_id="u1", item_id="i1", type="click", context={"request_id": 17})
    assert counts.request_id_of(event) is None
    assert counts.attribution_keys([event, _event("u1", "click", T0, "r1")]) == ["t1|r1"]


def test_attribution_entries_survive_the_state_store() -> None:
    served = Served("home", "ab/a", "u1", T0, clicked=True)
    waiting = Waiting((WaitingEvent("u1", "view", T0, "home"), WaitingEvent("u2", "click", T0 + 1, None)))
    assert entry_from_state(served.to_state()) == served
    assert entry_from_state(waiting.to_state()) == waiting


def test_events_that_overtake_their_list_move_to_it_when_it_arrives() -> None:
    store = Store()
    store.events(
        [
            _event("u1", "view", T0 + 1, "r1", scenario="home"),
            _event("u1", "click", T0 + 2, "r1", scenario="home"),
            _event("u1", "click", T0 + 3, "r1"),  # names no scenario: counted nowhere until its list arrives
            _event("u2", "click", T0 + 4, "r1", scenario="home"),  # another user's: stays unattributed
        ]
    )
    assert store.window(T0, T0 + 60) == {UNATTRIBUTED: {"view": 1, "click": 2}}
    store.lists([_list("r1", "u1", "a", T0)])
    assert store.window(T0, T0 + 60) == {
        "ab/a": {"lists": 1, "items": 10, "view": 1, "click": 2, "lists_clicked": 1},
        UNATTRIBUTED: {"click": 1},
    }
    entry = store.entries[counts.entry_id("t1", "r1")]
    assert isinstance(entry, Served) and entry.clicked  # a later click does not count the list again
    store.events([_event("u1", "click", T0 + 9, "r1")])
    assert store.window(T0, T0 + 60)["ab/a"]["lists_clicked"] == 1


def test_few_events_wait_per_request_id() -> None:
    store = Store()
    store.events([_event("u1", "view", T0 + n, "r1", scenario="home") for n in range(MAX_WAITING + 5)])
    waiting = store.entries[counts.entry_id("t1", "r1")]
    assert isinstance(waiting, Waiting) and len(waiting.events) == MAX_WAITING
    store.lists([_list("r1", "u1", "a", T0)])
    got = store.window(T0, T0 + 60)
    assert (got["ab/a"]["view"], got[UNATTRIBUTED]["view"]) == (MAX_WAITING, 5)


def test_windows_widen_to_whole_intervals() -> None:
    w = counts.widen(T0 + 90, T0 + 3 * 3600 + 1, Interval.HOUR)
    assert (w.since, w.until) == (T0, T0 + 4 * 3600)
    assert w.starts == [T0 + h * 3600 for h in range(4)]
    day = counts.widen(T0, T0 + 1, Interval.DAY)
    assert day.since == datetime(2026, 3, 1, tzinfo=UTC).timestamp() and day.until - day.since == 86400
    assert counts.widen(T0, T0 + 60, Interval.MINUTE).starts == [T0]


def test_bad_windows_are_refused_with_a_code() -> None:
    with pytest.raises(WindowError) as empty:
        counts.widen(T0, T0, Interval.HOUR)
    assert empty.value.code == "invalid_window"
    with pytest.raises(WindowError) as long:
        counts.widen(T0, T0 + 86400 * 2, Interval.MINUTE)
    assert long.value.code == "too_many_buckets" and long.value.details["buckets"] == 2880


@pytest.mark.parametrize("interval", list(Interval))
def test_series_buckets_add_up_to_the_window(interval: Interval) -> None:
    store = Store()
    lists = [_list(f"r{n}", f"u{n}", "ab"[n % 2], T0 + n * 997.0) for n in range(300)]
    store.lists(lists)
    store.events([_event(f"u{n}", "click", T0 + n * 997.0 + 5, f"r{n}") for n in range(0, 300, 3)])
    span = 1400 * 60 if interval is Interval.MINUTE else 300 * 997.0  # a minute series stops at 1,500 rows
    window = counts.widen(T0, T0 + span, interval)
    cells = counts.series_cells("t1", "home", window, readable_until=window.until)
    summed: Counter[str] = Counter()
    for cell in cells:
        assert cell is not None
        summed.update(event_counts.total([cell], store.docs))
    whole = store.window(window.since, window.until)
    assert counts.by_slot(summed) == whole
    served = [e for e in lists if window.since <= e.timestamp < window.until]
    assert whole["ab/a"]["lists"] + whole["ab/b"]["lists"] == len(served)


def test_buckets_past_what_can_be_counted_are_not_read() -> None:
    window = counts.widen(T0, T0 + 4 * 3600, Interval.HOUR)
    cells = counts.series_cells("t1", "home", window, readable_until=T0 + 3600 + 1)
    assert [c is not None for c in cells] == [True, True, False, False]


def test_a_series_of_buckets_past_their_retention_is_refused() -> None:
    retention = event_counts.Retention(minute_s=8 * 86400.0, hour_s=100 * 86400.0, day_s=1000 * 86400.0)
    now = T0 + 30 * 86400
    recent = counts.widen(now - 86400, now, Interval.MINUTE)
    counts.check_kept(recent, now, retention)  # the last day's minutes are kept
    old = counts.widen(T0, T0 + 3600, Interval.MINUTE)
    with pytest.raises(WindowError) as gone:
        counts.check_kept(old, now, retention)
    assert gone.value.code == "interval_not_kept" and gone.value.details == {"interval": "minute", "kept_days": 8}
    counts.check_kept(counts.widen(T0, T0 + 3600, Interval.HOUR), now, retention)  # the hours still are
    counts.check_kept(old, now, event_counts.KEEP_ALL)
