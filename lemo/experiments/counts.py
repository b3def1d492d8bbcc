"""Experiment counters: per tenant, scenario, experiment + variant and calendar bucket, what was served and what
the served lists led to.

Counts sit in the same minute/hour/day/month bucket documents as the event counts (lemo/event_counts.py), one set
per tenant and scenario (`<tenant>|<scenario>|<level>|<unit>`), each unit holding fields `<slot>|<metric>`:

    slot    `<experiment>/<variant>` for a list served in an experiment, `NO_EXPERIMENT` for one served without,
            `UNATTRIBUTED` for events that name the scenario but no list of it
    metric  `lists`, `items`, `lists_clicked`, `lists_converted`, or an event type (`click`, `purchase`, ...)

A list is counted when archived for the first time, and leaves an attribution entry (`Served`) under its request
id; an event is attributed when its `context.request_id` names an entry of its tenant and user, and then counts
in the list's slot and bucket (the list's time, not the event's). An event that names a list not archived yet
(it overtook its list on the way, or names none) counts as unattributed and waits in a `Waiting` entry under that
request id; when the list arrives, the waiting events of its user move from unattributed to the list. Exactness
under redelivery is the caller's, as for event counts: count only records the archive took for the first time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from lemo import event_counts
from lemo.event_counts import Cell
from lemo.events import Event, EventType
from lemo.exposures import Exposure

NO_EXPERIMENT = "(none)"
UNATTRIBUTED = "(unattributed)"
LISTS, ITEMS, LISTS_CLICKED, LISTS_CONVERTED = "lists", "items", "lists_clicked", "lists_converted"
CLICK, CONVERSION = EventType.CLICK.value, EventType.PURCHASE.value

# One increment set: {doc_id: {"<unit>.<slot>|<metric>": n}}, the shape lemo.event_counts.increments returns.
Increments = dict[str, dict[str, int]]


class Interval(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @property
    def seconds(self) -> int:
        return {"minute": 60, "hour": 3600, "day": 86400}[self.value]


def slot(experiment: str | None, variant: str | None) -> str:
    """Where a list's counts go: ids cannot hold '/' or '(' (lemo.events.Identifier), so slots never collide."""
    return f"{experiment}/{variant}" if experiment and variant else NO_EXPERIMENT


def prefix(tenant_id: str, scenario: str) -> str:
    """The bucket documents' name prefix for one tenant's scenario (tenant first, like every state key)."""
    return f"{tenant_id}|{scenario}"


def entry_id(tenant_id: str, request_id: str) -> str:
    """A served list's attribution entry (the state key without its prefix): tenant first, so an event can only
    ever find its own tenant's lists."""
    return f"{tenant_id}|{request_id}"


@dataclass(frozen=True)
class Served:
    """What an event needs to know about the list it followed: the attribution entry of one request id."""

    scenario: str
    slot: str
    user_id: str
    served_at: float
    clicked: bool = False
    converted: bool = False

    def to_state(self) -> dict[str, Any]:
        return {"s": self.scenario, "x": self.slot, "u": self.user_id, "t": self.served_at, "c": self.clicked,
                "p": self.converted}  # fmt: skip

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> Served:
        return cls(
            scenario=str(data["s"]),
            slot=str(data["x"]),
            user_id=str(data["u"]),
            served_at=float(data["t"]),
            clicked=bool(data.get("c")),
            converted=bool(data.get("p")),
        )


# Events kept per request id while its list has not arrived: a client echoes one list's id in a handful of events.
MAX_WAITING = 32


@dataclass(frozen=True)
class WaitingEvent:
    user_id: str
    type: str
    timestamp: float
    scenario: str | None  # where it counts as unattributed meanwhile (None: nowhere)


@dataclass(frozen=True)
class Waiting:
    """The entry of a request id whose list has not been archived (yet): the events that named it, counted as
    unattributed until the list arrives."""

    events: tuple[WaitingEvent, ...]

    def to_state(self) -> dict[str, Any]:
        return {"w": [[w.user_id, w.type, w.timestamp, w.scenario] for w in self.events]}


Entry = Served | Waiting


def entry_from_state(data: Mapping[str, Any]) -> Entry:
    if "w" in data:
        return Waiting(tuple(WaitingEvent(str(u), str(t), float(ts), sc) for u, t, ts, sc in data["w"]))
    return Served.from_state(data)


def _add(out: dict[str, dict[str, int]], where: str, field: str, ts: float, n: int = 1) -> None:
    for cell in event_counts.cells_at(where, event_counts.utc(ts)):
        key = f"{cell.unit}.{field}"
        out[cell.doc_id][key] = out[cell.doc_id].get(key, 0) + n


def _attribute(out: dict[str, dict[str, int]], tenant_id: str, entry: Served, event_type: str) -> Served:
    """Counts one event of `entry`'s list; returns the entry with the list marked clicked or converted."""
    where = prefix(tenant_id, entry.scenario)
    _add(out, where, f"{entry.slot}|{event_type}", entry.served_at)
    if event_type == CLICK and not entry.clicked:
        _add(out, where, f"{entry.slot}|{LISTS_CLICKED}", entry.served_at)
        entry = replace(entry, clicked=True)
    if event_type == CONVERSION and not entry.converted:
        _add(out, where, f"{entry.slot}|{LISTS_CONVERTED}", entry.served_at)
        entry = replace(entry, converted=True)
    return entry


def exposure_increments(
    exposures: Iterable[Exposure], existing: Mapping[str, Entry] | None = None
) -> tuple[Increments, dict[str, Served]]:
    """Newly archived lists -> their counts (one list, its items) and their attribution entries by entry id.
    `existing` holds the entries already under their request ids: the events waiting for a list move from
    unattributed to it (those of another user stay unattributed)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    entries: dict[str, Served] = {}
    for e in exposures:
        key = entry_id(e.tenant_id, e.request_id)
        before = (existing or {}).get(key)
        if isinstance(before, Served):
            continue  # its list was counted before (only a redelivery the archive forgot could get here)
        where, at = prefix(e.tenant_id, e.scenario), slot(e.experiment, e.variant)
        _add(out, where, f"{at}|{LISTS}", e.timestamp)
        _add(out, where, f"{at}|{ITEMS}", e.timestamp, len(e.items))
        entry = Served(e.scenario, at, e.user_id, e.timestamp)
        for waiting in before.events if before is not None else ():
            if waiting.user_id != e.user_id:
                continue
            if waiting.scenario is not None:
                _add(
                    out, prefix(e.tenant_id, waiting.scenario), f"{UNATTRIBUTED}|{waiting.type}", waiting.timestamp, -1
                )
            entry = _attribute(out, e.tenant_id, entry, waiting.type)
        entries[key] = entry
    return dict(out), entries


def request_id_of(event: Event) -> str | None:
    """The served list an event names in its context, if any (a string that could be a request id)."""
    value = event.context.get("request_id")
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


def attribution_keys(events: Iterable[Event]) -> list[str]:
    """The attribution entries these events may need, to read before `event_increments`."""
    return sorted({entry_id(e.tenant_id, rid) for e in events if (rid := request_id_of(e)) is not None})


def event_increments(events: Sequence[Event], entries: Mapping[str, Entry]) -> tuple[Increments, dict[str, Entry]]:
    """Newly archived events -> their experiment counts, and the attribution entries they changed.

    An event counts for its list when `entries` holds its request id's list, served to the same user (the list's
    first click or purchase marks it, so that `lists_clicked` counts each list once). Otherwise it counts as
    unattributed in the scenario it names, at its own time (nowhere when it names none); one whose list has not
    arrived also waits for it (up to MAX_WAITING per request id).
    """
    out: dict[str, dict[str, int]] = defaultdict(dict)
    changed: dict[str, Entry] = {}
    for e in events:
        rid = request_id_of(e)
        key = entry_id(e.tenant_id, rid) if rid is not None else None
        entry = (changed.get(key) or entries.get(key)) if key is not None else None
        if key is not None and isinstance(entry, Served) and entry.user_id == e.user_id:
            marked = _attribute(out, e.tenant_id, entry, e.type.value)
            if marked != entry:
                changed[key] = marked
            continue
        if e.scenario is not None:
            _add(out, prefix(e.tenant_id, e.scenario), f"{UNATTRIBUTED}|{e.type.value}", e.timestamp)
        if key is not None and not isinstance(entry, Served):
            waiting = entry.events if entry is not None else ()
            if len(waiting) < MAX_WAITING:
                changed[key] = Waiting((*waiting, WaitingEvent(e.user_id, e.type.value, e.timestamp, e.scenario)))
    return dict(out), changed


@dataclass(frozen=True)
class Window:
    """A window widened to whole intervals: `starts` are its buckets' first seconds, `until` the last one's end."""

    since: float
    until: float
    interval: Interval

    @property
    def starts(self) -> list[float]:
        step = self.interval.seconds
        return [self.since + i * step for i in range(round((self.until - self.since) / step))]


class WindowError(ValueError):
    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


MAX_BUCKETS = 1500


def widen(since: float, until: float, interval: Interval) -> Window:
    """[since, until) widened to whole intervals (UTC), refused when empty or longer than MAX_BUCKETS intervals."""
    if since >= until:
        raise WindowError("invalid_window", "since must be before until", since=since, until=until)
    step = interval.seconds
    start = since - since % step
    end = until - until % step + (step if until % step else 0)
    buckets = round((end - start) / step)
    if buckets > MAX_BUCKETS:
        raise WindowError(
            "too_many_buckets",
            f"the window holds {buckets} {interval.value}s; at most {MAX_BUCKETS}: pick a longer interval or a "
            "shorter window",
            buckets=buckets,
            limit=MAX_BUCKETS,
        )
    return Window(float(start), float(end), interval)


def check_kept(window: Window, now: float, retention: event_counts.Retention) -> None:
    """Refuses a series whose first bucket is past its interval's retention (lemo.event_counts.Retention): those
    buckets are gone, and zeros in their place would read as nothing served."""
    if not event_counts.bucket_kept(window.interval.value, event_counts.utc(window.since), now, retention):
        kept_s = {Interval.MINUTE: retention.minute_s, Interval.HOUR: retention.hour_s}.get(
            window.interval, retention.day_s
        )
        raise WindowError(
            "interval_not_kept",
            f"{window.interval.value} buckets are kept {(kept_s or 0) / 86400:g} days: pick a longer interval or a "
            "later since",
            interval=window.interval.value,
            kept_days=(kept_s or 0) / 86400,
        )


def series_cells(tenant_id: str, scenario: str, window: Window, readable_until: float) -> list[Cell | None]:
    """One cell per bucket of the window, None for buckets that start at or after `readable_until` (nothing can be
    counted there yet, and their dates may lie past the calendar's end)."""
    where = prefix(tenant_id, scenario)
    return [
        event_counts.bucket_cell(where, window.interval.value, event_counts.utc(start))
        if start < readable_until
        else None
        for start in window.starts
    ]


def by_slot(fields: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """{"<slot>|<metric>": n} -> {slot: {metric: n}}."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for field, n in fields.items():
        at, _, metric = field.rpartition("|")
        out[at][metric] = out[at].get(metric, 0) + int(n)
    return dict(out)
