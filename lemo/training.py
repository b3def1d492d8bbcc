"""One training run's data on disk: the export the first step writes and every later step reads.

Workflow activities pass file locations, never the data itself (a workflow's history holds every input and
output). The export is three files in the run directory: interactions as Parquet, items and users as JSON
lines. Every step rebuilds the same train/holdout split from it, deterministically, so steps can run in any
process and be retried.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lemo.models import Interaction, ItemMeta, TrainingData, UserMeta

INTERACTIONS_FILE = "interactions.parquet"
ITEMS_FILE = "items.jsonl"
USERS_FILE = "users.jsonl"
_COLUMNS = ("user_id", "item_id", "type", "value", "timestamp")


@dataclass(frozen=True)
class ExportCounts:
    interactions: int
    items: int
    users: int


def write_export(
    directory: Path,
    interactions: Iterable[Mapping[str, Any]],
    items: Iterable[Mapping[str, Any]],
    users: Iterable[Mapping[str, Any]],
) -> ExportCounts:
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


def read_export(directory: Path) -> TrainingData:
    frame = pd.read_parquet(directory / INTERACTIONS_FILE)
    interactions = [
        Interaction(
            user_id=str(u),
            item_id=str(i),
            type=str(t),
            value=None if pd.isna(v) else float(v),
            timestamp=float(ts),
        )
        for u, i, t, v, ts in zip(
            frame["user_id"], frame["item_id"], frame["type"], frame["value"], frame["timestamp"], strict=True
        )
    ]
    items = [
        ItemMeta(
            item_id=str(d["item_id"]),
            title=str(d.get("title") or ""),
            categories=list(d.get("categories") or []),
            tags=list(d.get("tags") or []),
            attributes=dict(d.get("attributes") or {}),
        )
        for d in _read_jsonl(directory / ITEMS_FILE)
    ]
    users = [
        UserMeta(user_id=str(d["user_id"]), attributes=dict(d.get("attributes") or {}))
        for d in _read_jsonl(directory / USERS_FILE)
    ]
    return TrainingData.build(interactions, items, users)


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
