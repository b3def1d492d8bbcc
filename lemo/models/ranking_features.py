"""Features of (user, candidate item) pairs for the learned rankers, and the labelled examples they train on.

Three kinds of signal: ids and metadata (sparse fields with an "unknown" index 0), history statistics (item
popularity, the user's affinity to the item's categories, history length), and, when recall channels are
given, each channel's opinion of the candidate: its score standardised over the catalog and its rank among
unseen items. The last group is what makes the ranker a learned fusion of the channels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from lemo.models.base import CatalogRecall, RecallModel, top_k, top_k_rows
from lemo.models.data import TrainingData, UserMeta

MAX_VALUES_PER_ATTRIBUTE = 200  # rarer attribute values share the "unknown" index
NUMERIC_BUCKETS = 8
MIN_ATTRIBUTE_COVERAGE = 0.5  # an attribute most users lack is noise, not a feature


@dataclass
class FeatureSpace:
    """Vocabularies and scales fitted on training data; JSON-serializable through `to_json`/`from_json`."""

    user_ids: list[str]
    item_ids: list[str]
    attributes: dict[str, dict[str, Any]]  # name -> {"values": [...]} or {"edges": [...]}
    categories: list[str]
    item_categories: list[list[int]]  # per item, 1-based category indices
    popularity: list[float]  # per item, log1p(count) / max
    channels: list[str]
    # 1-based indices of the items with an id embedding of their own; every other item shares the "unknown"
    # vector 0. None: all items (artifacts written before the field existed). See `id_vocabulary`.
    id_items: list[int] | None = None

    def __post_init__(self) -> None:
        self.user_index = {u: n + 1 for n, u in enumerate(self.user_ids)}
        self.item_index = {it: n + 1 for n, it in enumerate(self.item_ids)}
        self.value_index = {
            name: {v: n + 1 for n, v in enumerate(spec.get("values", []))} for name, spec in self.attributes.items()
        }
        self.max_categories = max((len(c) for c in self.item_categories), default=0) or 1
        padded = np.zeros((len(self.item_ids) + 1, self.max_categories), dtype=np.int64)
        for n, cats in enumerate(self.item_categories):
            padded[n + 1, : len(cats)] = cats
        self.category_table = padded
        self.category_matrix = sp.csr_matrix(
            (np.ones(int((padded > 0).sum()), np.float32), (np.nonzero(padded)[0], padded[padded > 0] - 1)),
            shape=(len(self.item_ids) + 1, max(1, len(self.categories))),
        )
        self.popularity_table = np.concatenate(([0.0], self.popularity)).astype(np.float32)
        self.item_field = np.arange(len(self.item_ids) + 1, dtype=np.int64)
        if self.id_items is not None:
            self.item_field[:] = 0
            self.item_field[np.asarray(self.id_items, dtype=np.int64)] = np.asarray(self.id_items, dtype=np.int64)

    @classmethod
    def fit(cls, data: TrainingData, channels: Sequence[str]) -> FeatureSpace:
        categories = sorted({c for m in data.items.values() for c in m.categories})
        cat_index = {c: n + 1 for n, c in enumerate(categories)}
        item_categories = [
            sorted({cat_index[c] for c in data.items[i].categories}) if i in data.items else [] for i in data.item_ids
        ]
        counts = np.log1p(data.item_popularity())
        popularity = (counts / max(float(counts.max(initial=0.0)), 1.0)).tolist()
        return cls(
            data.user_ids,
            data.item_ids,
            _fit_attributes(list(data.users.values()), data.n_users),
            categories,
            item_categories,
            popularity,
            list(channels),
        )

    def to_json(self) -> dict[str, Any]:
        names = (
            "user_ids",
            "item_ids",
            "attributes",
            "categories",
            "item_categories",
            "popularity",
            "channels",
            "id_items",
        )
        return {name: getattr(self, name) for name in names}

    @property
    def field_cardinalities(self) -> list[int]:
        """Sizes of the sparse fields: user id, item id, then one per user attribute (all with index 0)."""
        sizes = [len(self.user_ids) + 1, len(self.item_ids) + 1]
        for spec in self.attributes.values():
            sizes.append(len(spec.get("values", spec.get("edges", []))) + 2)
        return sizes

    @property
    def n_dense(self) -> int:
        return 3 + 2 * len(self.channels)

    def user_fields(self, users: Sequence[UserMeta | None]) -> np.ndarray:
        """int64 [n_users, 1 + n_attributes]: user id index, then one index per attribute."""
        out = np.zeros((len(users), 1 + len(self.attributes)), dtype=np.int64)
        for row, user in enumerate(users):
            if user is None:
                continue
            out[row, 0] = self.user_index.get(user.user_id, 0)
            for col, (name, spec) in enumerate(self.attributes.items(), start=1):
                out[row, col] = _attribute_index(user.attributes.get(name), spec, self.value_index[name])
        return out

    def history_rows(self, histories: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Binary rows over 1-based item indices (column 0 unused)."""
        indptr, indices = [0], []
        for history in histories:
            indices.extend(sorted({self.item_index[i] for i in history if i in self.item_index}))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        return sp.csr_matrix((data, indices, indptr), shape=(len(histories), len(self.item_ids) + 1))


def _fit_attributes(users: Sequence[UserMeta], n_users: int) -> dict[str, dict[str, Any]]:
    """Categorical attributes keep their most frequent values; numeric ones get quantile bucket edges."""
    seen: dict[str, list[Any]] = {}
    for user in users:
        for name, value in user.attributes.items():
            if isinstance(value, str | int | float | bool) and value != "":
                seen.setdefault(name, []).append(value)
    specs: dict[str, dict[str, Any]] = {}
    for name in sorted(seen):
        values = seen[name]
        if len(values) < MIN_ATTRIBUTE_COVERAGE * max(n_users, 1):
            continue
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            quantiles = np.quantile(np.asarray(values, dtype=float), np.linspace(0, 1, NUMERIC_BUCKETS + 1)[1:-1])
            specs[name] = {"edges": sorted({float(q) for q in quantiles})}
        else:
            counts: dict[str, int] = {}
            for v in values:
                counts[str(v)] = counts.get(str(v), 0) + 1
            top = sorted(counts, key=lambda v: (-counts[v], v))[:MAX_VALUES_PER_ATTRIBUTE]
            specs[name] = {"values": sorted(top)}
    return specs


def _attribute_index(value: Any, spec: Mapping[str, Any], index: Mapping[str, int]) -> int:
    if value is None or value == "":
        return 0
    if "edges" in spec:
        try:
            return 1 + int(np.searchsorted(spec["edges"], float(value), side="right"))
        except (TypeError, ValueError):
            return 0
    return index.get(str(value), 0)


class ChannelScorer:
    """Each channel's opinion of candidates, in the ranker's 1-based item space.

    For every user the channel scores the whole catalog once; a candidate then gets (z-score of its score among
    the user's unseen items, 1 / log2(rank + 2)). Items a channel cannot score get (0, 0): "not retrieved"."""

    def __init__(self, space: FeatureSpace, recall: Mapping[str, RecallModel]) -> None:
        self.space = space
        self.channels: list[tuple[CatalogRecall | None, np.ndarray]] = []
        for name in space.channels:
            model = recall.get(name)
            if not isinstance(model, CatalogRecall):
                self.channels.append((None, np.zeros(0, dtype=np.int64)))
                continue
            # position of each ranker item (1-based) in the channel's own item list, -1 when absent
            to_model = np.full(len(space.item_ids) + 1, -1, dtype=np.int64)
            for n, item in enumerate(space.item_ids, start=1):
                to_model[n] = model.item_index.get(item, -1)
            self.channels.append((model, to_model))
        # channels over the ranker's own item list (all but a pruned EASE) are copied, not gathered
        self.same_items = [
            model is not None and bool(np.array_equal(to_model[1:], np.arange(len(space.item_ids))))
            for model, to_model in self.channels
        ]

    def scores(self, histories: Sequence[Sequence[str]], user_ids: Sequence[str | None]) -> list[np.ndarray | None]:
        """Per channel, float32 [n_users, n_items + 1] scores in ranker item space (NaN: unscored or seen)."""
        seen = self.space.history_rows(histories)
        out: list[np.ndarray | None] = []
        for (model, to_model), same_items in zip(self.channels, self.same_items, strict=True):
            if model is None:
                out.append(None)
                continue
            raw = model.score_matrix(model.history_rows(histories), user_ids)
            if same_items:
                full = np.empty((len(histories), len(to_model)), dtype=np.float32)
                full[:, 1:] = raw
            else:
                full = np.full((len(histories), len(to_model)), np.nan, dtype=np.float32)
                present = to_model >= 0
                full[:, present] = raw[:, to_model[present]]
            full[:, 0] = np.nan
            full[seen.nonzero()] = np.nan
            out.append(full)
        return out


# Up to this many items a candidate's rank in a channel is exact (one sort per user over the catalog). Past it,
# sorting every user's whole catalog dominated ranker training (users x items log items), so ranks are exact
# within each user's top RANK_EXACT_TOP only and estimated from a fixed sample of RANK_SAMPLE items beyond it;
# 1 / log2(rank + 2) changes little out there.
EXACT_RANK_ITEMS = 4_096
RANK_EXACT_TOP = 512
RANK_SAMPLE = 1024


def channel_tops(scores: Sequence[np.ndarray | None], k: int) -> list[np.ndarray | None]:
    """Per channel each row's best items: the k candidates a channel retrieves, and past EXACT_RANK_ITEMS at
    least the RANK_EXACT_TOP whose ranks are exact (`top_k_rows`), so one selection serves both. Up to
    EXACT_RANK_ITEMS (ranks come from a full sort there) each row goes through `top_k`, as it always did: which
    of several tied items makes the cut is then the same as before, and MovieLens-sized results do not move."""
    tops: list[np.ndarray | None] = []
    for matrix in scores:
        if matrix is None:
            tops.append(None)
        elif matrix.shape[1] > EXACT_RANK_ITEMS:
            tops.append(top_k_rows(matrix, max(k, min(RANK_EXACT_TOP, matrix.shape[1] - 1))))
        else:
            rows = np.full((len(matrix), k), -1, dtype=np.int64)
            for row in range(len(matrix)):
                best = top_k(matrix[row], k)
                rows[row, : len(best)] = best
            tops.append(rows)
    return tops


def _ranks(
    matrix: np.ndarray, finite: np.ndarray, users: np.ndarray, items: np.ndarray, best: np.ndarray | None = None
) -> np.ndarray:
    """0-based rank of each pair's score among the finite scores of its row (ties by item index). `best`: the
    rows' `top_k_rows` when already selected (`channel_tops`)."""
    n_rows, n_cols = matrix.shape
    keyed = np.where(finite, -matrix, np.inf)
    if n_cols <= EXACT_RANK_ITEMS:
        order = np.argsort(keyed, axis=1, kind="stable")
        ranks = np.empty((n_rows, n_cols), dtype=np.int64)
        np.put_along_axis(ranks, order, np.broadcast_to(np.arange(n_cols), (n_rows, n_cols)), axis=1)
        picked: np.ndarray = ranks[users, items]
        return picked
    top = min(RANK_EXACT_TOP, n_cols - 1)
    best = best[:, :top] if best is not None and best.shape[1] >= top else top_k_rows(matrix, top)
    table = np.full((n_rows, n_cols), -1, dtype=np.int32)
    rows, positions = np.nonzero(best >= 0)  # -1: fewer finite scores than `top` in that row
    table[rows, best[rows, positions]] = positions
    exact = table[users, items].astype(np.int64)
    sample = np.random.default_rng(0).choice(n_cols, min(RANK_SAMPLE, n_cols), replace=False)
    drawn = np.sort(keyed[:, sample], axis=1)  # each user's sampled scores as sort keys, ascending (inf: unscored)
    share = np.isfinite(drawn).sum(axis=1) / len(sample)
    wanted = keyed[users, items]
    above = np.empty(len(users), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(users) != 0])  # pairs come grouped by user
    for start, stop in zip(starts, np.r_[starts[1:], len(users)], strict=True):
        above[start:stop] = np.searchsorted(drawn[users[start]], wanted[start:stop], side="left")
    estimate = np.maximum(np.rint(above / len(sample) * n_cols), top).astype(np.int64)
    estimate = np.minimum(estimate, np.rint(share[users] * n_cols).astype(np.int64))
    ranked: np.ndarray = np.where(exact >= 0, exact, estimate)
    return ranked


def _row_moments(matrix: np.ndarray, finite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row the mean and standard deviation (+1e-6) of the finite entries, float64 [n_rows] each, computed
    MOMENT_ROWS rows at a time: float64 temporaries of a whole [users, 100,000] batch led example building."""
    count = np.maximum(finite.sum(axis=1), 1)
    mean, std = np.empty(len(matrix)), np.empty(len(matrix))
    for start in range(0, len(matrix), MOMENT_ROWS):
        rows = slice(start, start + MOMENT_ROWS)
        part_mean = np.where(finite[rows], matrix[rows], 0.0).sum(axis=1, keepdims=True, dtype=np.float64)
        part_mean /= count[rows, None]
        centred = np.where(finite[rows], matrix[rows] - part_mean, 0.0)
        mean[rows] = part_mean[:, 0]
        std[rows] = np.sqrt((centred**2).sum(axis=1) / count[rows]) + 1e-6
    return mean, std


MOMENT_ROWS = 16


def channel_features(
    scores: Sequence[np.ndarray | None],
    users: np.ndarray,
    items: np.ndarray,
    tops: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """float32 [n_pairs, 2 * n_channels] for pairs (row in `scores`, 1-based item); `tops` from `channel_tops`."""
    columns = []
    for n, matrix in enumerate(scores):
        if matrix is None:
            columns += [np.zeros(len(users), np.float32)] * 2
            continue
        finite = np.isfinite(matrix)
        mean, std = _row_moments(matrix, finite)
        picked, retrieved = matrix[users, items], finite[users, items]
        z = np.where(retrieved, (picked - mean[users]) / std[users], 0.0)
        ranks = _ranks(matrix, finite, users, items, tops[n] if tops is not None else None)
        reciprocal = np.where(retrieved, 1.0 / np.log2(ranks + 2.0), 0.0)
        columns += [np.clip(z, -10, 10).astype(np.float32), reciprocal.astype(np.float32)]
    return np.stack(columns, axis=1) if columns else np.zeros((len(users), 0), np.float32)


def history_features(space: FeatureSpace, seen: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """float32 [n_pairs, 3]: item popularity, the user's affinity to the item's categories, history length."""
    profile = np.asarray((seen @ space.category_matrix).todense(), dtype=np.float32)
    lengths = np.asarray(seen.sum(axis=1)).ravel()
    profile /= np.maximum(lengths, 1.0)[:, None]
    item_cats = space.category_matrix[items]
    n_cats = np.maximum(np.asarray(item_cats.sum(axis=1)).ravel(), 1.0)
    affinity = np.asarray(item_cats.multiply(profile[users]).sum(axis=1)).ravel() / n_cats
    length = np.log1p(lengths[users]) / math.log(1000.0)
    return np.stack([space.popularity_table[items], affinity, length], axis=1).astype(np.float32)


def id_vocabulary(items: np.ndarray, labels: np.ndarray, min_positives: int) -> list[int] | None:
    """The 1-based items that keep an id embedding: those labelled positive at least `min_positives` times
    (0: every item, as before this rule).

    Why: an item that appears among the candidates but (almost) never as a positive only ever has its id
    vector pushed down, while an item that never appears keeps its initial vector near 0. At scoring time the
    never-seen item then outranks the trained one on the id terms alone, which on a sparse catalog (most items
    never a candidate) drove DeepFM's AUC to chance (docs/evaluation.md). Rare items share "unknown" (index 0)
    instead, which learns from all of them together, and unseen items get the same vector."""
    if min_positives <= 0:
        return None
    counts = np.bincount(items[labels > 0].astype(np.int64), minlength=1)
    return np.flatnonzero(counts >= min_positives).astype(int).tolist()


@dataclass
class FeatureBatch:
    """Model inputs for n pairs: sparse fields int64 [n, n_fields] (the item field is the id vocabulary's index,
    0 for items without an id vector), the 1-based catalog item int64 [n] (for categories), dense float32
    [n, n_dense]."""

    fields: np.ndarray
    dense: np.ndarray
    items: np.ndarray


def pair_fields(
    space: FeatureSpace, users: Sequence[UserMeta | None], pair_users: np.ndarray, pair_items: np.ndarray
) -> np.ndarray:
    """int64 [n_pairs, n_fields]: user id, item id (the id vocabulary's index), then the user's attributes."""
    user_fields = space.user_fields(users)[pair_users]
    fields = np.concatenate([user_fields[:, :1], space.item_field[pair_items][:, None], user_fields[:, 1:]], axis=1)
    return fields.astype(np.int64)


def pair_dense(
    space: FeatureSpace,
    histories: Sequence[Sequence[str]],
    pair_users: np.ndarray,
    pair_items: np.ndarray,
    channel_scores: Sequence[np.ndarray | None],
    tops: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """float32 [n_pairs, n_dense]: history features, then each channel's (z-score, reciprocal rank)."""
    seen = space.history_rows(histories)
    dense = np.concatenate(
        [
            history_features(space, seen, pair_users, pair_items),
            channel_features(channel_scores, pair_users, pair_items, tops),
        ],
        axis=1,
    )
    return dense.astype(np.float32)


def pair_features(
    space: FeatureSpace,
    users: Sequence[UserMeta | None],
    histories: Sequence[Sequence[str]],
    pair_users: np.ndarray,
    pair_items: np.ndarray,
    channel_scores: Sequence[np.ndarray | None],
) -> FeatureBatch:
    """Features for pairs (row in `users`, 1-based item index); `channel_scores` from `ChannelScorer.scores`."""
    return FeatureBatch(
        pair_fields(space, users, pair_users, pair_items),
        pair_dense(space, histories, pair_users, pair_items, channel_scores),
        pair_items.astype(np.int64),
    )
