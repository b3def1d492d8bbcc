"""Interactions files (bring your own data): CSV or Parquet rows read as event dicts with deterministic ids,
so loading a file twice sends the same events (`lemo load interactions`, `lemo eval --interactions`)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def read_interactions(path: Path) -> list[dict[str, Any]]:
    """Events from a CSV or Parquet file with user_id, item_id, timestamp and optional value and type columns.
    Timestamps may be unix seconds, milliseconds or ISO dates. Without a type, a row with a value is a `rate`
    event and one without is a `click`."""
    import pandas as pd  # imported here: reading a file is the only use

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
