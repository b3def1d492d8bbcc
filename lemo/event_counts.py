"""Event counts per tenant and type, pre-aggregated so that any window is answered from a handful of documents.

Counts live in four levels of calendar buckets (UTC), each a document holding the counts of the level below:

    <tenant>|M            one per tenant:  month  -> type -> count
    <tenant>|d|YYYYMM     one per month:   day    -> type -> count
    <tenant>|h|YYYYMMDD   one per day:     hour   -> type -> count
    <tenant>|m|YYYYMMDDHH one per hour:    minute -> type -> count

An event adds one to its minute, hour, day and month. A window [since, until) is cut, greedily from `since`, into the
largest whole calendar units that fit, so it touches at most seven documents (a partial hour, day and month at
each end, the whole months in between) whatever its length or the size of the archive. Windows have minute
resolution: they are widened to whole minutes (since down, until up), so an event counts when its minute overlaps
[since, until); `until=now` includes the current minute.

Exactness under redelivery is the caller's: count only events the archive took for the first time.

Retention (`Retention`): a minute, hour or day document expires a set time after the end of the span it covers (the
hour, day or month), so that storage stays bounded; the month document is kept. A window is cut only into cells
still kept: at each end it is widened to the finest resolution kept there (a window starting 30 days ago at 10:17
counts from 10:00 that day, one starting four years ago from the first of its month), never answered from a
document that has expired.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The latest timestamp a window may name (9999-12-31T23:59:59Z): later ones are not dates at all.
MAX_TIMESTAMP = 253402300799.0

# Level -> (document key format, field format): the field is the unit inside its document.
_MINUTE, _HOUR, _DAY, _MONTH = "m", "h", "d", "M"


@dataclass(frozen=True)
class Cell:
    """One unit's counts: document `doc_id`, field `unit` (a minute, hour, day or month inside it)."""

    doc_id: str
    unit: str


def cells_at(prefix: str, at: datetime) -> list[Cell]:
    """The four cells a count at `at` (UTC) adds to; `prefix` names whose counts they are (a tenant here, a tenant
    and scenario for lemo/experiments)."""
    return [
        Cell(f"{prefix}|{_MINUTE}|{at:%Y%m%d%H}", f"{at:%M}"),
        Cell(f"{prefix}|{_HOUR}|{at:%Y%m%d}", f"{at:%H}"),
        Cell(f"{prefix}|{_DAY}|{at:%Y%m}", f"{at:%d}"),
        Cell(f"{prefix}|{_MONTH}", f"{at:%Y%m}"),
    ]


def bucket_cell(prefix: str, interval: str, at: datetime) -> Cell:
    """The one cell holding the whole `interval` ("minute", "hour" or "day") that starts at `at` (UTC)."""
    if interval == "minute":
        return Cell(f"{prefix}|{_MINUTE}|{at:%Y%m%d%H}", f"{at:%M}")
    if interval == "hour":
        return Cell(f"{prefix}|{_HOUR}|{at:%Y%m%d}", f"{at:%H}")
    if interval == "day":
        return Cell(f"{prefix}|{_DAY}|{at:%Y%m}", f"{at:%d}")
    raise ValueError(f"no buckets of a {interval!r}")


@dataclass(frozen=True)
class Retention:
    """How long each level's documents are kept after the end of the span they cover (seconds; None: kept). The
    month level is always kept; coarser levels must be kept at least as long as finer ones."""

    minute_s: float | None = 8 * 86400.0
    hour_s: float | None = 100 * 86400.0
    day_s: float | None = 3 * 366 * 86400.0

    def __post_init__(self) -> None:
        kept = [float("inf") if s is None else s for s in (self.minute_s, self.hour_s, self.day_s)]
        if any(s <= 0 for s in kept) or kept != sorted(kept):
            raise ValueError(f"retention must be positive and no shorter for coarser buckets: {self}")

    def of(self, level: str) -> float | None:
        return {_MINUTE: self.minute_s, _HOUR: self.hour_s, _DAY: self.day_s}.get(level)


# Nothing expires: what a caller without retention settings reads and writes.
KEEP_ALL = Retention(None, None, None)


def _span_end(level: str, unit: str) -> datetime:
    """The end of the span one document covers: its level's document unit (YYYYMMDDHH, YYYYMMDD or YYYYMM)."""
    if level == _MINUTE:
        return datetime.strptime(unit, "%Y%m%d%H").replace(tzinfo=UTC) + timedelta(hours=1)
    if level == _HOUR:
        return datetime.strptime(unit, "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)
    return _next_month(datetime.strptime(unit, "%Y%m").replace(tzinfo=UTC))


def expires_in(doc_id: str, now: float, retention: Retention) -> float | None:
    """Seconds until the document `doc_id` (or a state key ending in one) is past retention, as of `now`: None for
    one kept for good, zero or less for one already past it (a count that arrives that late is dropped)."""
    if doc_id.endswith(f"|{_MONTH}"):
        return None
    _, level, unit = doc_id.rsplit("|", 2)
    kept = retention.of(level)
    if kept is None:
        return None
    return _span_end(level, unit).timestamp() + kept - now


def bucket_kept(interval: str, at: datetime, now: float, retention: Retention) -> bool:
    """Whether the bucket of `interval` ("minute", "hour" or "day") starting at `at` is still kept at `now`."""
    left = expires_in(bucket_cell("_", interval, at).doc_id, now, retention)
    return left is None or left > 0


def _kept_at(level: str, at: datetime, now: float, retention: Retention) -> bool:
    """Whether the `level` document holding the instant `at` is still kept at `now`."""
    kept = retention.of(level)
    if level == _MONTH or kept is None:
        return True
    unit = {_MINUTE: f"{at:%Y%m%d%H}", _HOUR: f"{at:%Y%m%d}", _DAY: f"{at:%Y%m}"}[level]
    return _span_end(level, unit).timestamp() + kept > now


def _floor(at: datetime, level: str) -> datetime:
    """`at` rounded down to the start of its `level` unit (minute, hour, day or month)."""
    at = at.replace(second=0, microsecond=0)
    if level in (_HOUR, _DAY, _MONTH):
        at = at.replace(minute=0)
    if level in (_DAY, _MONTH):
        at = at.replace(hour=0)
    if level == _MONTH:
        at = at.replace(day=1)
    return at


def _ceil(at: datetime, level: str) -> datetime:
    floor = _floor(at, level)
    if floor == at:
        return at
    steps = {_MINUTE: timedelta(minutes=1), _HOUR: timedelta(hours=1), _DAY: timedelta(days=1)}
    return _next_month(floor) if level == _MONTH else floor + steps[level]


def _finest_kept(at: datetime, now: float, retention: Retention) -> str:
    return next(level for level in (_MINUTE, _HOUR, _DAY, _MONTH) if _kept_at(level, at, now, retention))


def kept_window(since: float, until: float, now: float, retention: Retention) -> tuple[float, float]:
    """[since, until) widened to whole minutes, and further at each end to the finest resolution still kept there:
    the window `window_cells` counts."""
    start = _floor(utc(since), _MINUTE)
    end = _ceil(utc(until), _MINUTE)
    if start >= end:
        return start.timestamp(), end.timestamp()
    start = _floor(start, _finest_kept(start, now, retention))
    last = end - timedelta(minutes=1)  # the last minute counted: its documents decide how the end is cut
    end = _ceil(end, _finest_kept(last, now, retention))
    return start.timestamp(), end.timestamp()


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def increments(events: Iterable[tuple[str, str, float]]) -> dict[str, dict[str, int]]:
    """(tenant_id, type, timestamp) of newly archived events -> {doc_id: {"<unit>.<type>": n}}, ready for `$inc`."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for tenant_id, event_type, ts in events:
        for cell in cells_at(tenant_id, utc(ts)):
            out[cell.doc_id][f"{cell.unit}.{event_type}"] += 1
    return {doc_id: dict(fields) for doc_id, fields in out.items()}


def _next_month(at: datetime) -> datetime:
    return (at.replace(day=1) + timedelta(days=32)).replace(day=1)


def window_cells(
    tenant_id: str, since: float, until: float, now: float | None = None, retention: Retention = KEEP_ALL
) -> list[Cell]:
    """The cells whose sum is the count of [since, until) widened to whole minutes (and, with a `retention`, to the
    finest resolution kept at each end as of `now`: `kept_window`), largest units first where they fit."""
    start, stop = kept_window(since, until, time.time() if now is None else now, retention)
    at, end = utc(start), utc(stop)
    cells: list[Cell] = []
    while at < end:
        month_end = _next_month(at)
        if at.day == 1 and at.hour == 0 and at.minute == 0 and month_end <= end:
            cells.append(Cell(f"{tenant_id}|{_MONTH}", f"{at:%Y%m}"))
            at = month_end
        elif at.hour == 0 and at.minute == 0 and at + timedelta(days=1) <= end:
            cells.append(Cell(f"{tenant_id}|{_DAY}|{at:%Y%m}", f"{at:%d}"))
            at += timedelta(days=1)
        elif at.minute == 0 and at + timedelta(hours=1) <= end:
            cells.append(Cell(f"{tenant_id}|{_HOUR}|{at:%Y%m%d}", f"{at:%H}"))
            at += timedelta(hours=1)
        else:
            cells.append(Cell(f"{tenant_id}|{_MINUTE}|{at:%Y%m%d%H}", f"{at:%M}"))
            at += timedelta(minutes=1)
    return cells


def total(cells: Iterable[Cell], docs: dict[str, dict[str, dict[str, int]]]) -> dict[str, int]:
    """Sums the cells' counts per type; `docs` maps doc_id -> {unit: {type: count}} (missing: nothing counted)."""
    counts: dict[str, int] = defaultdict(int)
    for cell in cells:
        for event_type, n in docs.get(cell.doc_id, {}).get(cell.unit, {}).items():
            counts[event_type] += int(n)
    return {k: v for k, v in counts.items() if v}
