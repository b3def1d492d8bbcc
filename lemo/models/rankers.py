"""Learned rankers (DeepFM, Wide & Deep, linear fusion; networks in `ranker_nets`) over `ranking_features`.

With recall channels they are trained as a learned fusion: the training data is split again per user into a
fit part and a validation part, the channels are retrained on the fit part, and the ranker learns which of
their candidates the user went on to interact with in the validation part. Serving then uses channels trained
on everything, whose features (standardised scores, reciprocal ranks) keep their meaning across the two.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from lemo.models.base import RecallModel, read_meta, write_meta
from lemo.models.data import TrainingData, UserMeta
from lemo.models.modules import build_seeded
from lemo.models.ranker_nets import DeepFMNet, LinearFusionNet, WideDeepNet
from lemo.models.ranking_examples import RANKER_DEFAULTS, RankingExamples, learning_users
from lemo.models.ranking_features import ChannelScorer, FeatureBatch, FeatureSpace, pair_features

__all__ = [
    "RANKER_CLASSES",
    "RANKER_DEFAULTS",
    "DeepFM",
    "LearnedRanker",
    "LinearFusion",
    "RankingExamples",
    "WideDeep",
    "learning_users",
]


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
        rng = np.random.default_rng(seed)
        space = examples.space
        net, generator = build_seeded(lambda: cls.build_net(space, p), seed, device)  # concurrency-proof seeding
        net = net.to(device)
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
                hide = torch.rand(f.shape[0], 2, generator=generator, device=device) < float(p["id_dropout"])
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
                loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
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
