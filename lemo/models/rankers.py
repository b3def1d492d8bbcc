"""Learned rankers, DeepFM (Guo et al. 2017) and Wide & Deep (Cheng et al. 2016), over `ranking_features`.

With recall channels they are trained as a learned fusion: the training data is split again per user into a
fit part and a validation part, the channels are retrained on the fit part, and the ranker learns which of
their candidates the user went on to interact with in the validation part. Serving then uses channels trained
on everything, whose features (standardised scores, reciprocal ranks) keep their meaning across the two.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from lemo.models.base import CatalogRecall, RecallModel, read_meta, top_k, write_meta
from lemo.models.data import TrainingData, UserMeta
from lemo.models.modules import FactorizationMachine, FieldEmbeddings, mlp
from lemo.models.ranking_features import ChannelScorer, FeatureBatch, FeatureSpace, pair_features

RANKER_DEFAULTS: dict[str, Any] = {
    "dim": 16,
    "hidden": [128, 64],
    "dropout": 0.1,
    "epochs": 4,
    "batch_size": 2048,
    "lr": 0.003,
    "weight_decay": 1e-6,
    "id_dropout": 0.1,  # share of training rows whose user/item id is hidden, so "unknown" ids learn a vector
    "candidates_per_channel": 100,
    "validation_ratio": 0.25,
    "negatives_per_positive": 4,  # only without recall channels
}


class DeepFMNet(nn.Module):
    """logit = linear(fields, dense) + FM(field vectors, category vector, dense vectors) + DNN(all of them)."""

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_categories: int,
        n_dense: int,
        dim: int,
        hidden: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.embeddings = FieldEmbeddings(cardinalities, dim)
        self.linear = FieldEmbeddings(cardinalities, 1)
        self.categories = nn.EmbeddingBag(n_categories + 1, dim, mode="mean", padding_idx=0)
        self.category_linear = nn.EmbeddingBag(n_categories + 1, 1, mode="mean", padding_idx=0)
        self.dense_vectors = nn.Parameter(torch.randn(n_dense, dim) * 0.01)
        self.dense_linear = nn.Linear(n_dense, 1)
        self.fm = FactorizationMachine()
        n_vectors = len(cardinalities) + 1 + n_dense
        self.dnn = mlp([n_vectors * dim + n_dense, *hidden, 1], dropout)

    def forward(self, fields: torch.Tensor, categories: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """fields int64 [B, F], categories int64 [B, C] (0 = padding), dense float [B, D] -> logits [B]."""
        vectors = torch.cat(
            [
                self.embeddings(fields),
                self.categories(categories).unsqueeze(1),
                dense.unsqueeze(2) * self.dense_vectors.unsqueeze(0),
            ],
            dim=1,
        )
        first_order = self.linear(fields).sum(dim=(1, 2)) + self.category_linear(categories).squeeze(1)
        deep = self.dnn(torch.cat([vectors.flatten(1), dense], dim=1)).squeeze(1)
        return first_order + self.dense_linear(dense).squeeze(1) + self.fm(vectors) + deep


class WideDeepNet(nn.Module):
    """logit = wide(one-hot fields, user attribute x item category crosses, dense) + deep(MLP over embeddings)."""

    CROSS_BUCKETS: ClassVar[int] = 50_000

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_categories: int,
        n_dense: int,
        dim: int,
        hidden: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_categories = n_categories
        self.wide_fields = FieldEmbeddings(cardinalities, 1)
        self.wide_crosses = nn.EmbeddingBag(self.CROSS_BUCKETS + 1, 1, mode="sum", padding_idx=0)
        nn.init.zeros_(self.wide_crosses.weight)
        self.wide_dense = nn.Linear(n_dense, 1)
        self.embeddings = FieldEmbeddings(cardinalities, dim)
        self.categories = nn.EmbeddingBag(n_categories + 1, dim, mode="mean", padding_idx=0)
        self.deep = mlp([(len(cardinalities) + 1) * dim + n_dense, *hidden, 1], dropout)

    def crosses(self, fields: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        """Hashed (user attribute field, value, item category) ids [B, A * C]; 0 where either side is missing."""
        attributes = fields[:, 2:]
        n_attr = attributes.shape[1]
        field_no = torch.arange(n_attr, device=fields.device).view(1, n_attr, 1)
        key = (attributes.unsqueeze(2) * 1_000_003 + field_no * 7_919 + categories.unsqueeze(1)) % self.CROSS_BUCKETS
        valid = (attributes.unsqueeze(2) > 0) & (categories.unsqueeze(1) > 0)
        return torch.where(valid, key + 1, 0).flatten(1)

    def forward(self, fields: torch.Tensor, categories: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """fields int64 [B, F], categories int64 [B, C] (0 = padding), dense float [B, D] -> logits [B]."""
        wide = self.wide_fields(fields).sum(dim=(1, 2)) + self.wide_dense(dense).squeeze(1)
        if fields.shape[1] > 2:
            wide = wide + self.wide_crosses(self.crosses(fields, categories)).squeeze(1)
        vectors = torch.cat([self.embeddings(fields).flatten(1), self.categories(categories), dense], dim=1)
        return wide + self.deep(vectors).squeeze(1)


@dataclass
class RankingExamples:
    """Labelled (user, candidate) pairs with their features, built once and shared by every ranker."""

    space: FeatureSpace
    features: FeatureBatch
    labels: np.ndarray  # float32 [n]

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
        (see the module docstring). Without: `data`'s positives plus uniformly sampled unseen negatives."""
        p = {**RANKER_DEFAULTS, **(params or {})}
        channels = {name: m for name, m in (recall or {}).items() if isinstance(m, CatalogRecall)}
        space = FeatureSpace.fit(data, list(channels))
        if channels:
            return cls._from_channels(data, space, channels, p, seed)
        return cls._from_sampling(data, space, p, seed)

    @classmethod
    def _from_channels(
        cls,
        data: TrainingData,
        space: FeatureSpace,
        channels: Mapping[str, CatalogRecall],
        p: dict[str, Any],
        seed: int,
    ) -> RankingExamples:
        from lemo.models.registry import train_model  # the registry imports this module

        fit, valid = data.split(float(p["validation_ratio"]), seed=seed + 1)
        refit = {name: train_model(m.kind, fit, m.params, seed=seed) for name, m in channels.items()}
        histories = fit.histories()
        users = [data.users.get(u, UserMeta(u)) for u in data.user_ids]
        scores = ChannelScorer(space, refit).scores(histories, data.user_ids)
        per_channel = int(p["candidates_per_channel"])
        pair_users, pair_items = [], []
        for row in range(data.n_users):
            found: set[int] = set()
            for matrix in scores:
                if matrix is not None:
                    found.update(top_k(matrix[row], per_channel).tolist())
            pair_users.append(np.full(len(found), row))
            pair_items.append(np.fromiter(sorted(found), dtype=np.int64, count=len(found)))
        u, i = np.concatenate(pair_users), np.concatenate(pair_items)
        truth = set(zip(valid.rows.tolist(), (valid.cols + 1).tolist(), strict=True))
        labels = np.fromiter(((a, b) in truth for a, b in zip(u.tolist(), i.tolist(), strict=True)), np.float32)
        return cls(space, pair_features(space, users, histories, u, i, scores), labels)

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
        features = pair_features(space, users, data.histories(), u, i, [])
        return cls(space, features, labels)


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
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        space = examples.space
        net = cls.build_net(space, p).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=float(p["lr"]), weight_decay=float(p["weight_decay"]))
        fields = torch.as_tensor(examples.features.fields, device=device)
        dense = torch.as_tensor(examples.features.dense, device=device)
        labels = torch.as_tensor(examples.labels, device=device)
        categories = torch.as_tensor(space.category_table, device=device)
        batch = int(p["batch_size"])
        net.train()
        for _ in range(int(p["epochs"])):
            order = torch.as_tensor(rng.permutation(len(labels)), device=device)
            for start in range(0, len(order), batch):
                chosen = order[start : start + batch]
                f = fields[chosen].clone()
                hide = torch.rand(f.shape[0], 2, device=device) < float(p["id_dropout"])
                f[:, :2] = torch.where(hide, 0, f[:, :2])
                logits = net(f, categories[fields[chosen, 1]], dense[chosen])
                loss = nn.functional.binary_cross_entropy_with_logits(logits, labels[chosen])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return cls(space, p, net, recall)

    def logits(self, batch: FeatureBatch) -> np.ndarray:
        fields = torch.as_tensor(batch.fields)
        with torch.inference_mode():
            out = self.net(fields, self.category_table[fields[:, 1]], torch.as_tensor(batch.dense))
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
        and items fall back to the learned "unknown" embeddings plus history and channel features."""
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


RANKER_CLASSES: dict[str, Any] = {"deepfm": DeepFM, "wide_deep": WideDeep}
