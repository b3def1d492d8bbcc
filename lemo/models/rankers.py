"""Learned rankers (DeepFM, Wide & Deep, linear fusion; networks in `ranker_nets`) over `ranking_features`.

With recall channels they are trained as a learned fusion: the training data is split again per user into a
fit part and a validation part, the channels are retrained on the fit part, and the ranker learns which of
their candidates the user went on to interact with in the validation part. Serving then uses channels trained
on everything, whose features (standardised scores, reciprocal ranks) keep their meaning across the two.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from lemo.models.base import CatalogRecall, RecallModel, read_meta, write_meta
from lemo.models.data import TrainingData, UserMeta
from lemo.models.ranker_nets import DeepFMNet, LinearFusionNet, WideDeepNet
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
_examples_cache: dict[str, tuple[weakref.ref[TrainingData], Any, RankingExamples]] = {}


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
        to the next ranker that asks for the same data, channels and settings."""
        p = {**RANKER_DEFAULTS, **(params or {})}
        channels = {name: m for name, m in (recall or {}).items() if isinstance(m, CatalogRecall)}
        key = (
            json.dumps({n: [m.kind, m.params] for n, m in sorted(channels.items())}, sort_keys=True, default=str),
            json.dumps({k: p[k] for k in EXAMPLE_PARAMS}, sort_keys=True),
            seed,
        )
        with _examples_lock:
            cached = _examples_cache.get("last")
            if cached is not None and cached[0]() is data and cached[1] == key:
                return cached[2]
            space = FeatureSpace.fit(data, list(channels))
            built = (
                cls._from_channels(data, space, channels, p, seed)
                if channels
                else cls._from_sampling(data, space, p, seed)
            )
            _examples_cache["last"] = (weakref.ref(data), key, built)
            return built

    @classmethod
    def _from_channels(
        cls,
        data: TrainingData,
        space: FeatureSpace,
        channels: Mapping[str, CatalogRecall],
        p: dict[str, Any],
        seed: int,
    ) -> RankingExamples:
        from lemo.models.registry import train_recall  # the registry imports this module

        fit, valid = data.split(float(p["validation_ratio"]), seed=seed + 1)
        refit = {name: train_recall(m.kind, fit, m.params, seed=seed) for name, m in channels.items()}
        histories = fit.histories()
        scorer = ChannelScorer(space, refit)
        per_channel = int(p["candidates_per_channel"])
        outside = int(p["outside_candidates"])
        rng = np.random.default_rng(seed + 2)
        held = valid.matrix
        learners = _learning_users(held, learning_users(p, data.n_items), seed + 3)
        pair_users, pair_items, dense = [], [], []
        # users in batches: each channel's scores are [batch, catalog] floats, so the memory stays bounded
        for start in range(0, len(learners), EXAMPLE_BATCH):
            batch = learners[start : start + EXAMPLE_BATCH]
            scores = scorer.scores([histories[u] for u in batch], [data.user_ids[u] for u in batch])
            tops = channel_tops(scores, per_channel)
            candidates = [top[:, :per_channel] for top in tops if top is not None]
            local_u, local_i = [], []
            for row, user in enumerate(batch.tolist()):
                found: set[int] = set()
                for top in candidates:
                    found.update(top[row][top[row] >= 0].tolist())
                if outside > 0:  # what no channel retrieved: the user's held positives and random catalog items
                    found.update((held.indices[held.indptr[user] : held.indptr[user + 1]] + 1).tolist())
                    found.update(rng.integers(1, data.n_items + 1, outside).tolist())
                local_u.append(np.full(len(found), row))
                local_i.append(np.fromiter(sorted(found), dtype=np.int64, count=len(found)))
            u, i = np.concatenate(local_u), np.concatenate(local_i)
            dense.append(pair_dense(space, [histories[x] for x in batch], u, i, scores, tops))
            pair_users.append(batch[u])
            pair_items.append(i)
        u, i = np.concatenate(pair_users), np.concatenate(pair_items)
        truth = set(zip(valid.rows.tolist(), (valid.cols + 1).tolist(), strict=True))
        labels = np.fromiter(((a, b) in truth for a, b in zip(u.tolist(), i.tolist(), strict=True)), np.float32)
        space = replace(space, id_items=id_vocabulary(i, labels, int(p["min_item_positives"])))
        users = [data.users.get(x, UserMeta(x)) for x in data.user_ids]
        features = FeatureBatch(pair_fields(space, users, u, i), np.concatenate(dense), i)
        return cls(space, features, labels, per_channel, len(learners))

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


def _listwise_loss(logits: torch.Tensor, labels: torch.Tensor, group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Softmax cross-entropy of each positive against its own user's candidates (ListNet with binary labels):
    only the order within a user's list matters, which is what NDCG measures."""
    peak = torch.zeros(n_groups, device=logits.device).scatter_reduce(
        0, group, logits.detach(), "amax", include_self=False
    )
    sums = torch.zeros(n_groups, device=logits.device).index_add(0, group, torch.exp(logits - peak[group]))
    log_softmax = logits - (torch.log(sums) + peak)[group]
    return -(log_softmax * labels).sum() / labels.sum().clamp(min=1.0)


class LearnedRanker:
    """A trained DeepFM or Wide & Deep with its feature space and (optionally) the recall channels it fuses."""

    kind: str = ""
    net_class: ClassVar[type[nn.Module]]

    def __init__(
        self,
        space: FeatureSpace,
        params: Mapping[str, Any],
        net: nn.Module,
        recall: Mapping[str, RecallModel] | None = None,
    ) -> None:
        self.space = space
        self.params = dict(params)
        self.net = net.cpu().eval()
        self.category_table = torch.as_tensor(space.category_table)
        self.attach_recall(recall or {})

    def attach_recall(self, recall: Mapping[str, RecallModel]) -> None:
        """Sets the channels whose scores feed the ranker (e.g. after loading newer recall models)."""
        self.scorer = ChannelScorer(self.space, recall)

    @classmethod
    def build_net(cls, space: FeatureSpace, p: Mapping[str, Any]) -> nn.Module:
        return cls.net_class(
            space.field_cardinalities,
            len(space.categories),
            space.n_dense,
            int(p["dim"]),
            list(p["hidden"]),
            float(p["dropout"]),
        )

    @classmethod
    def train(
        cls,
        data: TrainingData,
        params: Mapping[str, Any],
        *,
        seed: int,
        device: str,
        recall: Mapping[str, RecallModel] | None = None,
        examples: RankingExamples | None = None,
    ) -> LearnedRanker:
        p = {**RANKER_DEFAULTS, **params}
        examples = examples or RankingExamples.build(data, recall, p, seed=seed)
        if examples.users:  # shown in the model list: how many users the ranker learned from
            p["learning_users"] = examples.users
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        space = examples.space
        net = cls.build_net(space, p).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=float(p["lr"]), weight_decay=float(p["weight_decay"]))
        features, labels = examples.features, examples.labels
        order = np.argsort(features.fields[:, 0], kind="stable")  # examples grouped by user
        fields = torch.as_tensor(features.fields[order], device=device)
        dense = torch.as_tensor(features.dense[order], device=device)
        items = torch.as_tensor(features.items[order], device=device)
        target = torch.as_tensor(labels[order], device=device)
        categories = torch.as_tensor(space.category_table, device=device)
        group_starts = np.flatnonzero(np.r_[True, np.diff(features.fields[order, 0]) != 0])
        groups = np.split(np.arange(len(order)), group_starts[1:])
        shuffled = rng.permutation(len(groups))
        n_held = int(len(groups) * float(p["early_stopping_share"])) if len(groups) >= 20 else 0
        held, trained = [groups[g] for g in shuffled[:n_held]], [groups[g] for g in shuffled[n_held:]]

        def batch_loss(chosen: list[np.ndarray], hide_ids: bool) -> torch.Tensor:
            rows = torch.as_tensor(np.concatenate(chosen), device=device)
            group = torch.as_tensor(np.repeat(np.arange(len(chosen)), [len(c) for c in chosen]), device=device)
            f = fields[rows]
            if hide_ids:
                hide = torch.rand(f.shape[0], 2, device=device) < float(p["id_dropout"])
                f = torch.cat([torch.where(hide, 0, f[:, :2]), f[:, 2:]], dim=1)
            logits = net(f, categories[items[rows]], dense[rows])
            pointwise = nn.functional.binary_cross_entropy_with_logits(logits, target[rows])
            return _listwise_loss(logits, target[rows], group, len(chosen)) + float(p["pointwise_weight"]) * pointwise

        per_batch = max(1, int(p["users_per_batch"]))
        best, best_state, stale = float("inf"), None, 0
        for _ in range(int(p["epochs"])):
            net.train()
            epoch_order = rng.permutation(len(trained))
            for start in range(0, len(trained), per_batch):
                loss = batch_loss([trained[g] for g in epoch_order[start : start + per_batch]], True)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            if not held:
                continue
            net.eval()
            with torch.no_grad():
                held_loss = float(batch_loss(held, False))
            if held_loss < best - 1e-4:
                best, stale = held_loss, 0
                best_state = {name: t.detach().clone() for name, t in net.state_dict().items()}
            else:
                stale += 1
                if stale >= int(p["patience"]):
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        return cls(space, p, net, recall)

    def logits(self, batch: FeatureBatch) -> np.ndarray:
        fields = torch.as_tensor(batch.fields)
        with torch.inference_mode():
            out = self.net(fields, self.category_table[torch.as_tensor(batch.items)], torch.as_tensor(batch.dense))
        return np.asarray(out.numpy(), dtype=np.float32)

    def score_many(
        self,
        users: Sequence[UserMeta | None],
        histories: Sequence[Sequence[str]],
        candidates: Sequence[Sequence[str]],
    ) -> list[np.ndarray]:
        """Logits per user for their candidates: the channels score all users in one batch, then one forward
        pass covers every pair."""
        ids = [u.user_id if u is not None else None for u in users]
        scores = self.scorer.scores(histories, ids)
        lengths = [len(c) for c in candidates]
        pair_users = np.repeat(np.arange(len(users)), lengths)
        pair_items = np.fromiter(
            (self.space.item_index.get(i, 0) for c in candidates for i in c), dtype=np.int64, count=sum(lengths)
        )
        logits = self.logits(pair_features(self.space, users, histories, pair_users, pair_items, scores))
        return np.split(logits, np.cumsum(lengths)[:-1])

    def score(
        self,
        user: UserMeta | str | None,
        history: Sequence[str],
        candidates: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """Logits float32 [len(candidates)] (higher is better; sigmoid gives a click probability). Unknown users
        and items fall back to the learned "unknown" embeddings plus history and channel features. `context`
        (time, device, scenario) is accepted so callers need not change when context features arrive; unused."""
        meta = UserMeta(user) if isinstance(user, str) else user
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        return self.score_many([meta], [history], [candidates])[0]

    def save(self, directory: Path) -> None:
        write_meta(directory, self.kind, self.params)
        (directory / "features.json").write_text(json.dumps(self.space.to_json()))
        torch.save(self.net.state_dict(), directory / "net.pt")

    @classmethod
    def load(cls, directory: Path, recall: Mapping[str, RecallModel] | None = None) -> LearnedRanker:
        meta = read_meta(directory)
        space = FeatureSpace(**json.loads((directory / "features.json").read_text()))
        net = cls.build_net(space, meta["params"])
        net.load_state_dict(torch.load(directory / "net.pt", weights_only=True, map_location="cpu"))
        return cls(space, meta["params"], net, recall)


class DeepFM(LearnedRanker):
    kind = "deepfm"
    net_class = DeepFMNet


class WideDeep(LearnedRanker):
    kind = "wide_deep"
    net_class = WideDeepNet


class LinearFusion(LearnedRanker):
    kind = "fusion"
    net_class = LinearFusionNet


RANKER_CLASSES: dict[str, Any] = {"deepfm": DeepFM, "wide_deep": WideDeep, "fusion": LinearFusion}
