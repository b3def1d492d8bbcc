"""MovieLens-100k as shipped inside the PyPI package `recbole` (installed with --no-deps by `make`):
tab-separated files whose header fields look like `user_id:token`. MovieLens terms: research use."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any


class DatasetMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Rating:
    user_id: str
    item_id: str
    rating: float
    timestamp: float


def dataset_dir() -> Path:
    spec = find_spec("recbole")
    if spec is None or spec.origin is None:
        raise DatasetMissing("MovieLens-100k ships in the recbole package: pip install --no-deps recbole==1.2.1")
    path = Path(spec.origin).parent / "dataset_example" / "ml-100k"
    if not (path / "ml-100k.inter").exists():
        raise DatasetMissing(f"{path}/ml-100k.inter not found")
    return path


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.split(":")[0] for h in next(reader)]
        for row in reader:
            yield dict(zip(header, row, strict=False))


def genre_slug(genre: str) -> str:
    """A category id from a genre name: "Children's" -> "childrens", "Sci-Fi" -> "sci-fi"."""
    return re.sub(r"[^a-z0-9_.\-]+", "-", genre.lower().replace("'", "")).strip("-")


def items(path: Path | None = None) -> Iterator[dict[str, Any]]:
    for row in _rows((path or dataset_dir()) / "ml-100k.item"):
        year = row.get("release_year", "").strip()
        item: dict[str, Any] = {
            "item_id": row["item_id"],
            "title": row.get("movie_title", "").strip(),
            "categories": [genre_slug(g) for g in row.get("class", "").split() if genre_slug(g)],
            "attributes": {"year": int(year)} if year.isdigit() else {},
        }
        if year.isdigit():
            item["published_at"] = datetime(int(year), 1, 1, tzinfo=UTC).isoformat()
        yield item


def users(path: Path | None = None) -> Iterator[dict[str, Any]]:
    for row in _rows((path or dataset_dir()) / "ml-100k.user"):
        attributes: dict[str, Any] = {k: row[k] for k in ("gender", "occupation", "zip_code") if row.get(k)}
        if row.get("age", "").isdigit():
            attributes["age"] = int(row["age"])
        yield {"user_id": row["user_id"], "attributes": attributes}


def ratings(path: Path | None = None) -> Iterator[Rating]:
    for row in _rows((path or dataset_dir()) / "ml-100k.inter"):
        yield Rating(row["user_id"], row["item_id"], float(row["rating"]), float(row["timestamp"]))


def rating_event(r: Rating) -> dict[str, Any]:
    """One `rate` event per rating, with its original time; the id makes a second load a no-op."""
    return {
        "event_id": f"ml100k-{r.user_id}-{r.item_id}-{int(r.timestamp)}",
        "user_id": r.user_id,
        "item_id": r.item_id,
        "type": "rate",
        "value": r.rating,
        "timestamp": r.timestamp,
    }
