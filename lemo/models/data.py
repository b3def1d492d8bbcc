"""Training data shared by every trainer: id <-> index maps, one implicit-feedback matrix, per-user histories.

It is built once from archived events and handed to each trainer, so all models of one run agree on ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

# Implicit-feedback strength per event type. Impressions alone say nothing; a dislike removes the pair (it is a
# negative, never a positive). Every rating counts as one positive, as in the published MovieLens protocol.
EVENT_WEIGHTS: dict[str, float] = {
    "impression": 0.0,
    "view": 1.0,
    "click": 1.0,
    "rate": 1.0,
    "like": 2.0,
    "share": 2.0,
    "purchase": 3.0,
}
NEGATIVE_TYPES = frozenset({"dislike"})


@dataclass(frozen=True)
class Interaction:
    """One archived behavior event."""

    user_id: str
    item_id: str
    type: str
    value: float | None
    timestamp: float


@dataclass(frozen=True)
class ItemMeta:
    item_id: str
    title: str = ""
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserMeta:
    user_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingData:
    """Positive user-item pairs (one entry per pair) with their weight and first-seen time, plus metadata.

    `matrix` is users x items (CSR, float32 weights). Splits share the id maps and metadata of their parent.
    """

    user_ids: list[str]
    item_ids: list[str]
    rows: np.ndarray  # int32 user index per pair
    cols: np.ndarray  # int32 item index per pair
    weights: np.ndarray  # float32
    times: np.ndarray  # float64 seconds
    items: dict[str, ItemMeta] = field(default_factory=dict)
    users: dict[str, UserMeta] = field(default_factory=dict)
    user_index: dict[str, int] = field(init=False)
    item_index: dict[str, int] = field(init=False)
    matrix: sp.csr_matrix = field(init=False)

    def __post_init__(self) -> None:
        self.user_index = {u: i for i, u in enumerate(self.user_ids)}
        self.item_index = {it: i for i, it in enumerate(self.item_ids)}
        shape = (len(self.user_ids), len(self.item_ids))
        self.matrix = sp.csr_matrix((self.weights, (self.rows, self.cols)), shape=shape, dtype=np.float32)

    @classmethod
    def build(
        cls, interactions: Iterable[Interaction], items: Iterable[ItemMeta] = (), users: Iterable[UserMeta] = ()
    ) -> TrainingData:
        """Aggregates events per (user, item): weights add up, the time is the first positive event's, and a
        dislike drops the pair. Catalog items without any interaction still get an index (cold items)."""
        events = list(interactions)
        return cls.from_columns(
            [e.user_id for e in events],
            [e.item_id for e in events],
            [e.type for e in events],
            np.fromiter((e.timestamp for e in events), np.float64, count=len(events)),
            items,
            users,
        )

    @classmethod
    def from_columns(
        cls,
        user_col: Sequence[str] | np.ndarray | pd.Series,
        item_col: Sequence[str] | np.ndarray | pd.Series,
        type_col: Sequence[str] | np.ndarray | pd.Series,
        time_col: Sequence[float] | np.ndarray | pd.Series,
        items: Iterable[ItemMeta] = (),
        users: Iterable[UserMeta] = (),
    ) -> TrainingData:
        """`build` over event columns (one entry per event), vectorized: at 1,000,000 events the loop over event
        objects took most of a run's features step. Pairs keep the order of their first positive event."""
        frame = pd.DataFrame(
            {
                "u": pd.Series(user_col, dtype=object).astype(str),
                "i": pd.Series(item_col, dtype=object).astype(str),
                "t": pd.Series(type_col, dtype=object).astype(str),
                "ts": pd.to_numeric(pd.Series(time_col), errors="coerce").astype(np.float64),
            }
        )
        negative = frame["t"].isin(NEGATIVE_TYPES).to_numpy()
        weight = frame["t"].map(EVENT_WEIGHTS).fillna(1.0).to_numpy(np.float64)
        positive = frame[(weight > 0) & ~negative].assign(w=weight[(weight > 0) & ~negative])
        pairs = positive.groupby(["u", "i"], sort=False).agg(w=("w", "sum"), ts=("ts", "min"))
        if negative.any():
            disliked = pd.MultiIndex.from_frame(frame.loc[negative, ["u", "i"]])
            pairs = pairs[~pairs.index.isin(disliked)]
        pair_users = pairs.index.get_level_values(0)
        pair_items = pairs.index.get_level_values(1)
        item_meta = {m.item_id: m for m in items}
        user_meta = {m.user_id: m for m in users}
        user_ids = sorted(set(pair_users) | set(user_meta))
        item_ids = sorted(set(pair_items) | set(item_meta))
        return cls(
            user_ids=user_ids,
            item_ids=item_ids,
            rows=pd.Index(user_ids).get_indexer(pair_users).astype(np.int32),
            cols=pd.Index(item_ids).get_indexer(pair_items).astype(np.int32),
            weights=pairs["w"].to_numpy(np.float32),
            times=pairs["ts"].to_numpy(np.float64),
            items=item_meta,
            users=user_meta,
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def subset(self, mask: np.ndarray) -> TrainingData:
        """The pairs selected by a boolean mask, with the same id maps and metadata."""
        return TrainingData(
            self.user_ids,
            self.item_ids,
            self.rows[mask],
            self.cols[mask],
            self.weights[mask],
            self.times[mask],
            self.items,
            self.users,
        )

    def split(self, test_ratio: float = 0.25, seed: int = 42) -> tuple[TrainingData, TrainingData]:
        """Per-user random split into (train, holdout): each user keeps round((1 - test_ratio) * n) of their pairs
        in train (at least one), the rest goes to holdout. Deterministic for a seed and independent of the
        order events arrived in."""
        rng = np.random.default_rng(seed)
        order = np.lexsort((self.cols, self.rows))  # canonical order first, so the draw ignores input order
        shuffled = order[np.lexsort((rng.random(len(order)), self.rows[order]))]
        counts = np.bincount(self.rows, minlength=self.n_users)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        keep = np.maximum(1, np.rint((1.0 - test_ratio) * counts)).astype(np.int64)
        position = np.arange(len(shuffled)) - np.repeat(starts, counts)
        in_train = np.zeros(len(self.rows), dtype=bool)
        in_train[shuffled] = position < np.repeat(keep, counts)
        return self.subset(in_train), self.subset(~in_train)

    def temporal_split(self, test_ratio: float = 0.25) -> tuple[TrainingData, TrainingData]:
        """Per-user split by time into (train, holdout): each user's newest round(test_ratio * n) pairs (by
        first-seen time; ties by item index) go to holdout, keeping at least one pair in train. The protocol
        that predicts the future instead of filling in a random past."""
        order = np.lexsort((self.cols, self.times, self.rows))
        counts = np.bincount(self.rows, minlength=self.n_users)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        keep = np.maximum(1, np.rint((1.0 - test_ratio) * counts)).astype(np.int64)
        position = np.arange(len(order)) - np.repeat(starts, counts)
        in_train = np.zeros(len(self.rows), dtype=bool)
        in_train[order] = position < np.repeat(keep, counts)
        return self.subset(in_train), self.subset(~in_train)

    def histories(self) -> list[list[str]]:
        """Every user's items, oldest first (index-aligned with `user_ids`)."""
        order = np.lexsort((self.cols, self.times, self.rows))
        result: list[list[str]] = [[] for _ in self.user_ids]
        for r, c in zip(self.rows[order].tolist(), self.cols[order].tolist(), strict=True):
            result[r].append(self.item_ids[c])
        return result

    def item_popularity(self) -> np.ndarray:
        """Number of users per item (float32, aligned with `item_ids`)."""
        return np.bincount(self.cols, minlength=self.n_items).astype(np.float32)


def interactions_from_events(events: Iterable[dict[str, Any]]) -> list[Interaction]:
    """Interactions from event dicts as `lemo.datasets.interactions.read_interactions` returns them."""
    return [
        Interaction(
            user_id=str(e["user_id"]),
            item_id=str(e["item_id"]),
            type=str(e.get("type", "click")),
            value=e.get("value"),
            timestamp=float(e["timestamp"]),
        )
        for e in events
    ]
