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
"""

from __future__ import annotations

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


def window_cells(tenant_id: str, since: float, until: float) -> list[Cell]:
    """The cells whose sum is the count of [since, until) widened to whole minutes, largest units first where they
    fit."""
    at = utc(since - since % 60)
    end = utc(until - until % 60 + (60 if until % 60 else 0))
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
