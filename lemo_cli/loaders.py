"""Loading data through the public API: MovieLens-100k, or any interactions file (bring your own data).
Safe to run twice: items and users are upserts and every event has a deterministic id."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lemo.datasets import movielens
from lemo.datasets.interactions import read_interactions
from lemo_client import LemoClient

EVENT_BATCH = 1000
ROW_BATCH = 2000


@dataclass
class LoadReport:
    items: int = 0
    users: int = 0
    events_accepted: int = 0
    events_rejected: int = 0
    errors: list[Any] = field(default_factory=list)

    def note(self, result: Mapping[str, Any]) -> None:
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


def load_interactions(client: LemoClient, path: Path, quiet: bool = False) -> LoadReport:
    """Creates the items the file names (users are created by their first event), then sends its events."""
    report = LoadReport()
    events = read_interactions(path)
    item_ids = sorted({e["item_id"] for e in events})
    report.items = _upload_rows(client, "items", [{"item_id": i} for i in item_ids], report, quiet)
    report.users = len({e["user_id"] for e in events})
    _upload_events(client, events, report, quiet)
    return report
