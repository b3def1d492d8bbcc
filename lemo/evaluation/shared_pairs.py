"""The rankers of one training run evaluated on shared work.

Every ranker of a run fuses the same channels over the same feature space (only which items keep an id vector
differs), and a run evaluates them on the same holdout users. What costs is the channels' opinion: each channel
scores every evaluated user against the whole catalog, once for the AUC pairs and once for the pipeline's
candidates, and three rankers did it all three times (at 100,000 users and items about 400 s a ranker). Here
the channels score each user once; that pass yields the pipeline's candidates (each channel's top
`per_channel`, merged in channel order, each item once), the AUC pairs (holdout positives plus sampled items
the user never interacted with) and the dense features of both. Each ranker then adds its own id fields and
runs one forward pass. The pairs are kept per process, so the run's other rankers (activities fanned out
beside it) build them together and reuse them.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lemo.models.base import RecallModel
from lemo.models.data import TrainingData, UserMeta
from lemo.models.rankers import LearnedRanker
from lemo.models.ranking_features import FeatureBatch, FeatureSpace, channel_tops, pair_dense, pair_fields
from lemo.models.shared_work import SharedBatches

USER_BATCH = 256  # users per pass of channel scores: [batch, catalog] floats per channel
LOGIT_BATCH = 200_000  # pairs per forward pass


@dataclass(frozen=True)
class Pairs:
    """(user, item) pairs with their dense features; `rows` index `EvaluationPairs.users`, items are 1-based in
    the rankers' feature space, grouped by row."""

    rows: np.ndarray
    items: np.ndarray
    dense: np.ndarray


@dataclass(frozen=True)
class EvaluationPairs:
    users: np.ndarray  # the holdout users (indices into train), in `holdout_users` order
    auc: Pairs
    labels: np.ndarray  # float32 per AUC pair: 1 for a holdout positive
    pipeline: Pairs  # each user's merged candidates, in merge order


def space_fingerprint(space: FeatureSpace) -> str:
    """What the dense features depend on: the channels, the item space, popularity and categories."""
    digest = hashlib.sha1()
    digest.update(repr((space.channels, len(space.item_ids), space.item_ids[:1], space.item_ids[-1:])).encode())
    digest.update(np.asarray(space.popularity_table).tobytes())
    digest.update(repr(space.item_categories[:1000]).encode())
    return digest.hexdigest()


def _negatives(
    rng: np.random.Generator, known: Any, users: np.ndarray, counts: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each user `counts` uniform draws over the catalog, without the items the user is known to have and
    without repeats: (row in `users`, 0-based item), grouped by row."""
    rows = np.repeat(np.arange(len(users)), counts)
    drawn = rng.integers(0, n_items, len(rows))
    keys = np.unique(rows.astype(np.int64) * n_items + drawn)
    rows, drawn = np.divmod(keys, n_items)
    mine = known[users[rows], drawn]
    keep = np.asarray(mine).ravel() == 0
    return rows[keep], drawn[keep]


def build_pairs(
    ranker: LearnedRanker,
    channels: Mapping[str, RecallModel],
    train: TrainingData,
    test: TrainingData,
    users: np.ndarray,
    *,
    seed: int = 42,
    per_channel: int = 100,
    negatives_per_positive: int = 4,
) -> EvaluationPairs:
    """The pairs every ranker of the run is scored on (see the module docstring). `channels` must be the
    ranker's own fused channels (the recall mapping it was loaded with)."""
    options = {"seed": seed, "per_channel": per_channel, "negatives_per_positive": negatives_per_positive}
    return pair_batches(ranker, channels, train, test, users, **options).result()


_Batch = tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]


def pair_batches(
    ranker: LearnedRanker,
    channels: Mapping[str, RecallModel],
    train: TrainingData,
    test: TrainingData,
    users: np.ndarray,
    *,
    seed: int = 42,
    per_channel: int = 100,
    negatives_per_positive: int = 4,
) -> SharedBatches[_Batch, EvaluationPairs]:
    """`build_pairs` as batches of `USER_BATCH` users that the run's rankers build together."""
    space, scorer = ranker.space, ranker.scorer
    histories = train.histories()
    known = (train.matrix + test.matrix).tocsr()
    to_space = np.fromiter((space.item_index.get(i, 0) for i in train.item_ids), np.int64, count=train.n_items)
    order = [space.channels.index(name) for name in channels if name in space.channels]
    held = test.matrix

    def batch_pairs(index: int) -> _Batch:
        start = index * USER_BATCH
        rng = np.random.default_rng(seed + start)  # per batch, so the result does not depend on which thread
        batch = users[start : start + USER_BATCH]
        batch_histories = [histories[u] for u in batch]
        scores = scorer.scores(batch_histories, [train.user_ids[u] for u in batch])
        # the pipeline's candidates: each channel's top per_channel, merged in channel order, each item once
        tops = channel_tops(scores, per_channel)
        ordered = [top[:, :per_channel] for top in (tops[c] for c in order) if top is not None]
        merged = np.concatenate(ordered, axis=1) if ordered else np.full((len(batch), 0), -1, np.int64)
        cand_rows, cand_items = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for row in range(len(batch)):
            picked = np.fromiter(dict.fromkeys(x for x in merged[row].tolist() if x > 0), np.int64)
            cand_rows.append(np.full(len(picked), row, dtype=np.int64))
            cand_items.append(picked)
        p_rows, p_items = np.concatenate(cand_rows), np.concatenate(cand_items)
        # the AUC pairs: holdout positives, then sampled unknown items
        sub = held[batch]
        pos_rows = np.repeat(np.arange(len(batch)), np.diff(sub.indptr))
        pos_items = sub.indices.astype(np.int64)
        neg_rows, neg_items = _negatives(rng, known, batch, negatives_per_positive * np.diff(sub.indptr), train.n_items)
        a_rows = np.concatenate([pos_rows, neg_rows])
        a_items = to_space[np.concatenate([pos_items, neg_items])]
        a_labels = np.r_[np.ones(len(pos_rows), np.float32), np.zeros(len(neg_rows), np.float32)]
        grouped = np.argsort(a_rows, kind="stable")
        a_rows, a_items, a_labels = a_rows[grouped], a_items[grouped], a_labels[grouped]
        dense = pair_dense(space, batch_histories, np.r_[a_rows, p_rows], np.r_[a_items, p_items], scores, tops)
        return (
            (a_rows + start, a_items, dense[: len(a_rows)]),
            a_labels,
            (p_rows + start, p_items, dense[len(a_rows) :]),
        )

    def assemble(parts: list[_Batch]) -> EvaluationPairs:
        labels = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.float32)
        return EvaluationPairs(users, _stack([p[0] for p in parts]), labels, _stack([p[2] for p in parts]))

    return SharedBatches(-(-len(users) // USER_BATCH), batch_pairs, assemble)


def _stack(parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Pairs:
    if not parts:
        return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32))
    return Pairs(*(np.concatenate([p[n] for p in parts]) for n in range(3)))


def logits(ranker: LearnedRanker, train: TrainingData, users: np.ndarray, pairs: Pairs) -> np.ndarray:
    """The ranker's logits for pairs: its own id fields beside the shared dense features."""
    metas: list[UserMeta | None] = [train.users.get(train.user_ids[u], UserMeta(train.user_ids[u])) for u in users]
    out = np.empty(len(pairs.rows), dtype=np.float32)
    for start in range(0, len(pairs.rows), LOGIT_BATCH):
        part = slice(start, start + LOGIT_BATCH)
        fields = pair_fields(ranker.space, metas, pairs.rows[part], pairs.items[part])
        out[part] = ranker.logits(FeatureBatch(fields, pairs.dense[part], pairs.items[part]))
    return out


def ranked_lists(space: FeatureSpace, pairs: Pairs, scores: np.ndarray, n_users: int, k: int) -> list[list[str]]:
    """Each user's candidates ordered by score (ties keep the merge order), top k, as item ids."""
    starts = np.searchsorted(pairs.rows, np.arange(n_users + 1))
    lists = []
    for row in range(n_users):
        lo, hi = starts[row], starts[row + 1]
        best = np.argsort(-scores[lo:hi], kind="stable")[:k]
        lists.append([space.item_ids[i - 1] for i in pairs.items[lo:hi][best].tolist()])
    return lists


_lock = threading.Lock()
_Cached = tuple[
    tuple[Any, ...], weakref.ref[TrainingData], weakref.ref[TrainingData], SharedBatches[_Batch, EvaluationPairs]
]
_cache: dict[str, _Cached] = {}


def shared_pairs(
    ranker: LearnedRanker,
    channels: Mapping[str, RecallModel],
    train: TrainingData,
    test: TrainingData,
    users: np.ndarray,
    *,
    holdout: TrainingData,
    key: tuple[Any, ...],
    **options: Any,
) -> EvaluationPairs:
    """`build_pairs` on `test` (a sample of `holdout` named by `key`), kept for the next ranker of the same run:
    the same train and holdout objects (the run's split, read once per process), the same sample and channels,
    and a feature space with the same dense part. Rankers evaluated concurrently build the pairs together, batch
    by batch (`SharedBatches`), instead of each building its own or waiting for one thread."""
    full_key = (
        key,
        space_fingerprint(ranker.space),
        tuple((name, m.kind, repr(sorted(m.params.items()))) for name, m in channels.items()),
        tuple(sorted(options.items())),
    )
    with _lock:
        cached = _cache.get("last")
        if cached is not None and cached[0] == full_key and cached[1]() is train and cached[2]() is holdout:
            batches = cached[3]
        else:
            batches = pair_batches(ranker, channels, train, test, users, **options)
            _cache["last"] = (full_key, weakref.ref(train), weakref.ref(holdout), batches)
    return batches.result()
