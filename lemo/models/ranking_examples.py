"""The labelled examples every learned ranker of a run trains on (see `lemo.models.rankers`), and the settings
that shape them.

With recall channels the training data is split again per user into a fit part and a validation part, the
channels are retrained on the fit part, and each learning user's candidates (every channel's top
`candidates_per_channel`) are labelled by the validation part. The rankers of a run ask for the same examples
at once (the workflow fans them out); they build them together: the channels' refits first, then batches of
users, each taken by whichever ranker thread is free (`SharedBatches`).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Union

import numpy as np
import scipy.sparse as sp

from lemo.models.base import CatalogRecall, RecallModel
from lemo.models.data import TrainingData, UserMeta
from lemo.models.ranking_features import (
    ChannelScorer,
    FeatureBatch,
    FeatureSpace,
    channel_tops,
    id_vocabulary,
    pair_dense,
    pair_features,
    pair_fields,
)
from lemo.models.recall_kinds import train_recall
from lemo.models.shared_work import SharedBatches

RANKER_DEFAULTS: dict[str, Any] = {
    "dim": 8,
    "hidden": [64, 32],
    "dropout": 0.1,
    "epochs": 10,
    "early_stopping_share": 0.1,  # users whose candidates only measure when to stop (best epoch is kept)
    "patience": 3,
    "users_per_batch": 128,
    "pointwise_weight": 0.1,  # a little pointwise loss keeps scores comparable across users (AUC, log loss)
    "lr": 0.01,
    "weight_decay": 1e-6,
    "id_dropout": 0.1,  # share of training rows whose user/item id is hidden, so "unknown" ids learn a vector
    "candidates_per_channel": 100,
    "validation_ratio": 0.25,
    "negatives_per_positive": 4,  # only without recall channels
    "min_item_positives": 3,  # items labelled positive fewer times share the "unknown" id vector (id_vocabulary)
    # Per user, also train on items no channel retrieved: the user's held positives plus this many random items,
    # so scores of unretrieved items mean something too (0: channel candidates only).
    "outside_candidates": 0,
    # Users (with validation positives) whose candidates the ranker learns from, a seeded sample past this: every
    # learning user costs a score of the whole catalog per channel (100,000 users x 100,000 items took hours).
    "max_users": 10_000,
    # ...and fewer past this many users x catalog items (each channel scores every learning user against the
    # whole catalog): 5,000 users at 100,000 items, where 10,000 made example building the run's longest step.
    "max_user_items": 500_000_000,
}


# The settings that shape the examples (the rest shape the network).
EXAMPLE_PARAMS = (
    "candidates_per_channel",
    "validation_ratio",
    "negatives_per_positive",
    "min_item_positives",
    "outside_candidates",
    "max_users",
    "max_user_items",
)
EXAMPLE_BATCH = 256  # users per batch of channel scores while building examples
_examples_lock = threading.Lock()
_Build = Union["_ChannelExamples", SharedBatches[Any, "RankingExamples"]]
_examples_cache: dict[str, tuple[weakref.ref[TrainingData], Any, _Build]] = {}


def learning_users(params: Mapping[str, Any], n_items: int) -> int:
    """How many users a ranker learns from at most (0: all): `max_users`, and past `max_user_items` users x
    catalog items fewer, so example building grows no faster than the catalog (never fewer than 1,000)."""
    limit, budget = int(params["max_users"]), int(params.get("max_user_items", 0))
    if budget <= 0 or n_items <= 0:
        return limit
    scaled = max(1_000, budget // n_items)
    return scaled if limit <= 0 else min(limit, scaled)


def _learning_users(held: sp.csr_matrix, max_users: int, seed: int) -> np.ndarray:
    """The users with validation positives, or a seeded sample of `max_users` of them (sorted)."""
    users = np.flatnonzero(np.diff(held.indptr) > 0)
    if max_users > 0 and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    return users


@dataclass
class RankingExamples:
    """Labelled (user, candidate) pairs with their features, built once and shared by every ranker."""

    space: FeatureSpace
    features: FeatureBatch
    labels: np.ndarray  # float32 [n]
    candidates_per_channel: int
    users: int = 0  # users the examples come from (at most max_users with channels)

    @classmethod
    def build(
        cls,
        data: TrainingData,
        recall: Mapping[str, RecallModel] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        seed: int = 42,
    ) -> RankingExamples:
        """With `recall`: the channels' top candidates on a fit split, labelled by a validation split of `data`
        (see the module docstring). Without: `data`'s positives plus uniformly sampled unseen negatives.

        Rankers of one run learn from the same examples: the last ones built are kept (per process) and handed
        to the next ranker that asks for the same data, channels and settings; rankers that ask while they are
        being built build them together (`SharedBatches`: the channels' refits, then batches of users)."""
        p = {**RANKER_DEFAULTS, **(params or {})}
        channels = {name: m for name, m in (recall or {}).items() if isinstance(m, CatalogRecall)}
        key = (
            json.dumps({n: [m.kind, m.params] for n, m in sorted(channels.items())}, sort_keys=True, default=str),
            json.dumps({k: p[k] for k in EXAMPLE_PARAMS}, sort_keys=True),
            seed,
        )
        with _examples_lock:
            cached = _examples_cache.get("last")
            if cached is None or cached[0]() is not data or cached[1] != key:
                space = FeatureSpace.fit(data, list(channels))
                build: _Build = (
                    _ChannelExamples(data, space, channels, p, seed)
                    if channels
                    else SharedBatches(1, lambda _: cls._from_sampling(data, space, p, seed), lambda parts: parts[0])
                )
                cached = (weakref.ref(data), key, build)
                _examples_cache["last"] = cached
        return cached[2].result()

    @classmethod
    def _from_sampling(cls, data: TrainingData, space: FeatureSpace, p: dict[str, Any], seed: int) -> RankingExamples:
        rng = np.random.default_rng(seed)
        n_neg = int(p["negatives_per_positive"])
        positives_u, positives_i = data.rows.astype(np.int64), data.cols.astype(np.int64) + 1
        negatives_u = np.repeat(positives_u, n_neg)
        negatives_i = rng.integers(1, data.n_items + 1, len(negatives_u))
        seen = set(zip(positives_u.tolist(), positives_i.tolist(), strict=True))
        keep = np.fromiter(
            ((a, b) not in seen for a, b in zip(negatives_u.tolist(), negatives_i.tolist(), strict=True)), bool
        )
        u = np.concatenate([positives_u, negatives_u[keep]])
        i = np.concatenate([positives_i, negatives_i[keep]])
        labels = np.concatenate([np.ones(len(positives_u), np.float32), np.zeros(int(keep.sum()), np.float32)])
        users = [data.users.get(x, UserMeta(x)) for x in data.user_ids]
        space = replace(space, id_items=id_vocabulary(i, labels, int(p["min_item_positives"])))
        features = pair_features(space, users, data.histories(), u, i, [])
        return cls(space, features, labels, 0)


class _ChannelExamples:
    """`RankingExamples` from recall channels, in two rounds of shared batches: refit each channel on the fit
    split, then score batches of `EXAMPLE_BATCH` learning users; every ranker thread that asks takes part."""

    scorer: ChannelScorer
    histories: list[list[str]]

    def __init__(
        self,
        data: TrainingData,
        space: FeatureSpace,
        channels: Mapping[str, CatalogRecall],
        p: dict[str, Any],
        seed: int,
    ) -> None:
        self.data, self.space, self.channels, self.p, self.seed = data, space, channels, p, seed
        self.fit, self.valid = data.split(float(p["validation_ratio"]), seed=seed + 1)
        self.held = self.valid.matrix
        self.learners = _learning_users(self.held, learning_users(p, data.n_items), seed + 3)
        self.names = list(channels)
        self._refits = SharedBatches(
            len(self.names), self._refit, lambda parts: dict(zip(self.names, parts, strict=True))
        )
        self._users: SharedBatches[tuple[np.ndarray, np.ndarray, np.ndarray], RankingExamples] | None = None
        self._users_lock = threading.Lock()

    def result(self) -> RankingExamples:
        """The examples; every thread that calls it takes part in both rounds."""
        refits = self._refits.result()
        with self._users_lock:
            if self._users is None:
                self.scorer = ChannelScorer(self.space, refits)
                self.histories = self.fit.histories()
                n = -(-len(self.learners) // EXAMPLE_BATCH)
                self._users = SharedBatches(n, self._batch, self._assemble)
            users = self._users
        return users.result()

    def _refit(self, index: int) -> RecallModel:
        model = self.channels[self.names[index]]
        return train_recall(model.kind, self.fit, model.params, seed=self.seed)

    def _batch(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user, 1-based item, dense features) of one batch of learning users' candidates."""
        per_channel, outside = int(self.p["candidates_per_channel"]), int(self.p["outside_candidates"])
        rng = np.random.default_rng([self.seed + 2, index])
        batch = self.learners[index * EXAMPLE_BATCH : (index + 1) * EXAMPLE_BATCH]
        histories = [self.histories[u] for u in batch]
        # each channel's scores are [batch, catalog] floats, so the memory stays bounded
        scores = self.scorer.scores(histories, [self.data.user_ids[u] for u in batch])
        tops = channel_tops(scores, per_channel)
        candidates = [top[:, :per_channel] for top in tops if top is not None]
        local_u, local_i = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        held = self.held
        for row, user in enumerate(batch.tolist()):
            found: set[int] = set()
            for top in candidates:
                found.update(top[row][top[row] >= 0].tolist())
            if outside > 0:  # what no channel retrieved: the user's held positives and random catalog items
                found.update((held.indices[held.indptr[user] : held.indptr[user + 1]] + 1).tolist())
                found.update(rng.integers(1, self.data.n_items + 1, outside).tolist())
            local_u.append(np.full(len(found), row, dtype=np.int64))
            local_i.append(np.fromiter(sorted(found), dtype=np.int64, count=len(found)))
        u, i = np.concatenate(local_u), np.concatenate(local_i)
        return batch[u], i, pair_dense(self.space, histories, u, i, scores, tops)

    def _assemble(self, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> RankingExamples:
        u = np.concatenate([part[0] for part in parts])
        i = np.concatenate([part[1] for part in parts])
        truth = set(zip(self.valid.rows.tolist(), (self.valid.cols + 1).tolist(), strict=True))
        labels = np.fromiter(((a, b) in truth for a, b in zip(u.tolist(), i.tolist(), strict=True)), np.float32)
        space = replace(self.space, id_items=id_vocabulary(i, labels, int(self.p["min_item_positives"])))
        users = [self.data.users.get(x, UserMeta(x)) for x in self.data.user_ids]
        dense = np.concatenate([part[2] for part in parts])
        features = FeatureBatch(pair_fields(space, users, u, i), dense, i)
        return RankingExamples(space, features, labels, int(self.p["candidates_per_channel"]), len(self.learners))
