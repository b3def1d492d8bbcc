"""Loading data through the public API: MovieLens-100k, or any interactions file (bring your own data).
Safe to run twice: items and users are upserts and every event has a deterministic id."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lemo.client import LemoClient
from lemo.datasets import movielens

EVENT_BATCH = 1000
ROW_BATCH = 2000


@dataclass
class LoadReport:
    items: int = 0
    users: int = 0
    events_accepted: int = 0
    events_rejected: int = 0
    errors: list[Any] = field(default_factory=list)

    def note(self, result: dict[str, Any]) -> None:
        for r in result.get("results", []):
            if r and r.get("status") == "rejected" and len(self.errors) < 20:
                self.errors.append(r)
        self.errors.extend(result.get("errors", [])[: max(0, 20 - len(self.errors))])


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(rows)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _upload_rows(client: LemoClient, kind: str, rows: list[dict[str, Any]], report: LoadReport, quiet: bool) -> int:
    send = client.upsert_items if kind == "items" else client.upsert_users
    accepted = 0
    with tqdm(total=len(rows), desc=kind, unit=kind[:-1], disable=quiet) as bar:
        for chunk in _chunks(rows, ROW_BATCH):
            result = send(chunk)
            report.note(result)
            accepted += int(result["accepted"])
            bar.update(len(chunk))
    return accepted


def _upload_events(client: LemoClient, events: list[dict[str, Any]], report: LoadReport, quiet: bool) -> None:
    with tqdm(total=len(events), desc="events", unit="event", disable=quiet) as bar:
        for chunk in _chunks(events, EVENT_BATCH):
            result = client.track_batch(chunk)
            report.events_accepted += int(result["accepted"])
            report.events_rejected += int(result["rejected"])
            report.note(result)
            bar.update(len(chunk))


def load_movielens(client: LemoClient, quiet: bool = False, limit: int | None = None) -> LoadReport:
    """Items (title, year, genres), users (demographics) and one `rate` event per rating."""
    report = LoadReport()
    report.items = _upload_rows(client, "items", list(movielens.items()), report, quiet)
    report.users = _upload_rows(client, "users", list(movielens.users()), report, quiet)
    events = [movielens.rating_event(r) for r in itertools.islice(movielens.ratings(), limit)]
    _upload_events(client, events, report, quiet)
    return report


def read_interactions(path: Path) -> list[dict[str, Any]]:
    """Events from a CSV or Parquet file with user_id, item_id, timestamp and optional value and type columns.
    Timestamps may be unix seconds, milliseconds or ISO dates. Without a type, a row with a value is a `rate`
    event and one without is a `click`."""
    import pandas as pd  # only the loaders need pandas

    frame = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    missing = {"user_id", "item_id", "timestamp"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks the column(s) {sorted(missing)}")
    seconds = [_seconds(v) for v in frame["timestamp"]]
    has_value = "value" in frame.columns
    events = []
    for row, when in zip(frame.itertuples(index=False), seconds, strict=True):
        value = float(row.value) if has_value and pd.notna(row.value) else None
        kind = (
            str(row.type)
            if "type" in frame.columns and pd.notna(row.type)
            else ("rate" if value is not None else "click")
        )
        user, item = str(row.user_id), str(row.item_id)
        digest = hashlib.sha1(f"{user}|{item}|{when}|{kind}".encode()).hexdigest()[:20]
        event: dict[str, Any] = {
            "event_id": f"f-{digest}",
            "user_id": user,
            "item_id": item,
            "type": kind,
            "timestamp": float(when),
        }
        if value is not None:
            event["value"] = value
        events.append(event)
    return events


def _seconds(value: Any) -> float:
    """Unix seconds from seconds, milliseconds or an ISO 8601 date (UTC when it names no zone)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return number / 1000.0 if number >= 1e11 else number


def load_interactions(client: LemoClient, path: Path, quiet: bool = False) -> LoadReport:
    """Creates the items the file names (users are created by their first event), then sends its events."""
    report = LoadReport()
    events = read_interactions(path)
    item_ids = sorted({e["item_id"] for e in events})
    report.items = _upload_rows(client, "items", [{"item_id": i} for i in item_ids], report, quiet)
    report.users = len({e["user_id"] for e in events})
    _upload_events(client, events, report, quiet)
    return report
