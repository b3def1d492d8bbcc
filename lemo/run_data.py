"""One training run's data on disk: the export the first step writes and every later step reads.

Workflow activities pass file locations, never the data itself (a workflow's history holds every input and
output). The export is three files in the run directory: interactions as Parquet, items and users as JSON
lines. Every step rebuilds the same train/holdout split from it, deterministically, so steps can run in any
process and be retried.

Reading a whole event archive back for every run gets slower as it grows (100,000 events take 12-13 s from
FerretDB here), so each tenant keeps an archive snapshot: a Parquet copy of its events plus the newest
`archived_at` seen. A run reads only the events archived since then (with an overlap, deduplicated by event
id), drops those past retention, and writes the snapshot back. A snapshot older than FULL_RESCAN_S is rebuilt
from a full scan, so deletions in the archive reach training within that time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lemo.models import ItemMeta, TrainingData, UserMeta

INTERACTIONS_FILE = "interactions.parquet"
ITEMS_FILE = "items.jsonl"
USERS_FILE = "users.jsonl"
_COLUMNS = ("user_id", "item_id", "type", "value", "timestamp")
_SNAPSHOT_COLUMNS = ("event_id", *_COLUMNS, "archived_at")
# Events archived this long before the snapshot's newest one are read again: a batch that committed late (an
# earlier archived_at than one already seen) is still picked up; duplicates collapse on event_id.
SNAPSHOT_OVERLAP_S = 300.0
FULL_RESCAN_S = 7 * 86400.0


@dataclass(frozen=True)
class Snapshot:
    frame: pd.DataFrame
    watermark: float  # the newest archived_at in the frame
    full_scan_at: float  # when the archive was last read whole into it


def read_snapshot(path: Path, now: float) -> Snapshot | None:
    """The tenant's snapshot, or None when there is none or it is due for a full rescan."""
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    full_scan_at = float(frame.attrs.get("full_scan_at", 0.0))
    if now - full_scan_at > FULL_RESCAN_S or frame.empty:
        return None
    return Snapshot(frame=frame, watermark=float(frame["archived_at"].max()), full_scan_at=full_scan_at)


def archived_after(snapshot: Snapshot | None) -> float | None:
    """Where an incremental read starts (None: read everything)."""
    return None if snapshot is None else snapshot.watermark - SNAPSHOT_OVERLAP_S


def rows_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Archived rows (`EventArchive.training_rows`) as a frame of the snapshot's columns (missing fields: None)."""
    return pd.DataFrame.from_records(
        [{c: row.get(c) for c in _SNAPSHOT_COLUMNS} for row in rows], columns=list(_SNAPSHOT_COLUMNS)
    )


def merge_snapshot(
    snapshot: Snapshot | None, new_rows: pd.DataFrame | Iterable[Mapping[str, Any]], retention_cutoff: float
) -> pd.DataFrame:
    """The snapshot plus newly archived rows (a frame of `rows_frame`'s columns, or the rows themselves), one
    row per event id, without events archived before the cutoff (the archive's own retention rule)."""
    if isinstance(new_rows, pd.DataFrame):
        fresh = new_rows.reindex(columns=list(_SNAPSHOT_COLUMNS))
    else:
        fresh = rows_frame(new_rows)
    frames = [f for f in (snapshot.frame if snapshot is not None else None, fresh) if f is not None and not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else fresh
    for column in ("value", "timestamp", "archived_at"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["timestamp"] = frame["timestamp"].fillna(0.0)
    frame["archived_at"] = frame["archived_at"].fillna(frame["timestamp"])  # archived before the field existed
    frame = frame.drop_duplicates(subset="event_id", keep="last")
    return frame[frame["archived_at"] >= retention_cutoff].reset_index(drop=True)


def write_snapshot(path: Path, frame: pd.DataFrame, full_scan_at: float) -> None:
    """Writes the snapshot next to its final name and renames it into place (a reader never sees half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame.copy()
    frame.attrs["full_scan_at"] = full_scan_at
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


@dataclass(frozen=True)
class ExportCounts:
    interactions: int
    items: int
    users: int


def write_export(
    directory: Path,
    interactions: pd.DataFrame | Iterable[Mapping[str, Any]],
    items: Iterable[Mapping[str, Any]],
    users: Iterable[Mapping[str, Any]],
) -> ExportCounts:
    if isinstance(interactions, pd.DataFrame):
        frame = interactions.reindex(columns=list(_COLUMNS))
    else:
        frame = pd.DataFrame.from_records(
            [{c: row.get(c) for c in _COLUMNS} for row in interactions], columns=list(_COLUMNS)
        )
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["timestamp"] = pd.to_numeric(frame["timestamp"], errors="coerce").fillna(0.0)
    frame.to_parquet(directory / INTERACTIONS_FILE, index=False)
    n_items = _write_jsonl(directory / ITEMS_FILE, items)
    n_users = _write_jsonl(directory / USERS_FILE, users)
    return ExportCounts(interactions=len(frame), items=n_items, users=n_users)


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, default=str) + "\n")
            n += 1
    return n


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def item_meta(document: Mapping[str, Any]) -> ItemMeta:
    """An exported catalog item (or the catalog's own document) as the models read it."""
    return ItemMeta(
        item_id=str(document["item_id"]),
        title=str(document.get("title") or ""),
        categories=list(document.get("categories") or []),
        tags=list(document.get("tags") or []),
        attributes=dict(document.get("attributes") or {}),
    )


def read_export(directory: Path) -> TrainingData:
    frame = pd.read_parquet(directory / INTERACTIONS_FILE, columns=["user_id", "item_id", "type", "timestamp"])
    items = [item_meta(d) for d in _read_jsonl(directory / ITEMS_FILE)]
    users = [
        UserMeta(user_id=str(d["user_id"]), attributes=dict(d.get("attributes") or {}))
        for d in _read_jsonl(directory / USERS_FILE)
    ]
    return TrainingData.from_columns(
        frame["user_id"], frame["item_id"], frame["type"], frame["timestamp"].fillna(0.0), items, users
    )


@dataclass(frozen=True)
class RunData:
    full: TrainingData
    train: TrainingData
    holdout: TrainingData


_cache: dict[tuple[str, float, int], RunData] = {}
_cache_lock = threading.Lock()


def load_run_data(directory: Path, holdout_ratio: float, seed: int) -> RunData:
    """The run's data and its split, read once per process (steps of one run share it; the last run only)."""
    key = (str(directory), holdout_ratio, seed)
    with _cache_lock:
        if key not in _cache:
            full = read_export(directory)
            train, holdout = full.split(holdout_ratio, seed)
            _cache.clear()
            _cache[key] = RunData(full=full, train=train, holdout=holdout)
        return _cache[key]


def write_item_vectors(
    location: str, collection: str, tenant_id: str, item_ids: list[str], vectors: Any, chunk: int = 1000
) -> None:
    """Upserts one model's item vectors into a collection of the vector index (a Milvus Lite file or a server),
    `chunk` items per call."""
    from lemo.stores.vectors import VectorIndex  # pymilvus: only the steps that index pay for its import

    index = VectorIndex(location, collection, int(vectors.shape[1]))
    try:
        index.ensure_collection()
        for start in range(0, len(item_ids), chunk):
            ids = item_ids[start : start + chunk]
            index.upsert(tenant_id, dict(zip(ids, vectors[start : start + chunk].tolist(), strict=True)))
    finally:
        index.close()
