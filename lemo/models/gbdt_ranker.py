"""A gradient-boosted learning-to-rank ranker (LightGBM) over the channels' opinions: the `gbdt` kind.

It learns from the same labelled candidates as the neural rankers (`RankingExamples`) and reads the same dense
features (`ranking_features.pair_dense`): item popularity, the user's category affinity, history length, and per
fused channel the candidate's standardised score and reciprocal rank. Trees split on those directly, so a
channel can be trusted more for short histories or popular items, which a linear fusion cannot express. A
candidate a channel did not retrieve has that channel's z-score passed as missing (trees route it on its own)
rather than as 0, and a few per-candidate aggregates (how many channels retrieved it, the sum and best of its
reciprocal ranks, its mean z-score) save the trees the splits they would need to add them up.

The objective is a listwise one per user (`rank_xendcg`, the cross-entropy form of NDCG); LambdaRank on
NDCG@10 overfit the few positives per user within 20 trees on MovieLens-100k's validation split
(docs/evaluation.md). The score may only rise with every channel feature (a better z-score, a better rank, one
more channel retrieving it; LightGBM's monotone constraints): the trees learn from each user's top candidates
only, and without the constraint an item far down every channel's list (a random item, the AUC's negatives)
landed in whatever leaf the trees had made for the edge of the lists; the constraint also steadied the pipeline
on sparse data (docs/evaluation.md, "Tuning"). Small trees, many samples per leaf and a fixed number of rounds
keep it steady; one thread and a fixed seed make a run reproducible. Artifacts are LightGBM's own text format
(`trees.txt`), not a pickle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lemo.models.base import RecallModel, read_meta, write_meta
from lemo.models.data import TrainingData
from lemo.models.rankers import LearnedRanker
from lemo.models.ranking_examples import RANKER_DEFAULTS, RankingExamples
from lemo.models.ranking_features import FeatureBatch, FeatureSpace

# The tree settings, chosen on MovieLens-100k's validation split (docs/evaluation.md, "Tuning"); the example
# settings (candidates per channel, the inner validation ratio, learning users) are RANKER_DEFAULTS, shared with
# the neural rankers so a run builds its examples once for all of them.
GBDT_DEFAULTS: dict[str, Any] = {
    "objective": "rank_xendcg",
    "trees": 150,
    "learning_rate": 0.03,
    "leaves": 7,
    "min_child_samples": 500,  # per leaf: with ~10 positives per user, smaller leaves learn noise
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "monotone": True,  # the score is non-decreasing in each channel feature and aggregate (`monotone_constraints`)
}

HISTORY_COLUMNS = 3  # popularity, category affinity, history length (ranking_features.history_features)
AGGREGATE_COLUMNS = 4  # appended by `tree_features`


def monotone_constraints(n_dense: int) -> list[int]:
    """LightGBM's per-feature constraint for `tree_features`' columns: 0 (free) for the history columns, +1 for
    each channel's z-score and reciprocal rank and for the aggregates (a candidate a channel likes more, or more
    channels retrieve, never scores lower)."""
    return [0] * HISTORY_COLUMNS + [1] * (n_dense - HISTORY_COLUMNS + AGGREGATE_COLUMNS)


def tree_features(dense: np.ndarray) -> np.ndarray:
    """float32 [n, n_dense + 4]: the dense features with each channel's z-score missing (NaN) where that channel
    did not retrieve the candidate (its reciprocal rank is 0 there), then per candidate the sum of its reciprocal
    ranks, how many channels retrieved it, its best reciprocal rank and its mean z-score (-10 when none did)."""
    out = np.array(dense, dtype=np.float32, copy=True)
    reciprocal = out[:, HISTORY_COLUMNS + 1 :: 2]
    z = out[:, HISTORY_COLUMNS::2]
    retrieved = reciprocal > 0
    z[~retrieved] = np.nan  # a view: writes through to `out`
    count = retrieved.sum(axis=1)
    mean_z = np.where(retrieved, z, 0.0).sum(axis=1) / np.maximum(count, 1)
    aggregates = np.stack(
        [reciprocal.sum(axis=1), count, reciprocal.max(axis=1, initial=0.0), np.where(count > 0, mean_z, -10.0)],
        axis=1,
    )
    return np.concatenate([out, aggregates.astype(np.float32)], axis=1)


class GradientBoostedRanker(LearnedRanker):
    """Boosted trees over the dense features; ids and metadata are not used (they overfit on sparse data, see
    the DeepFM diagnosis in docs/evaluation.md). Scoring is one batched `predict` over every candidate."""

    kind = "gbdt"

    def __init__(
        self,
        space: FeatureSpace,
        params: Mapping[str, Any],
        booster: Any,
        recall: Mapping[str, RecallModel] | None = None,
    ) -> None:
        self.space = space
        self.params = dict(params)
        self.booster = booster
        self.attach_recall(recall or {})

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
    ) -> GradientBoostedRanker:
        import lightgbm as lgb  # imported where trees are trained or loaded: the other kinds never pay for it

        p = {**RANKER_DEFAULTS, **GBDT_DEFAULTS, **params}
        examples = examples or RankingExamples.build(data, recall, p, seed=seed)
        if examples.users:  # shown in the model list: how many users the ranker learned from
            p["learning_users"] = examples.users
        features = examples.features
        order = np.argsort(features.fields[:, 0], kind="stable")  # one group of candidates per user
        _, sizes = np.unique(features.fields[order, 0], return_counts=True)
        settings = {
            "objective": str(p["objective"]),
            "learning_rate": float(p["learning_rate"]),
            "num_leaves": int(p["leaves"]),
            "min_child_samples": int(p["min_child_samples"]),
            "feature_fraction": float(p["feature_fraction"]),
            "lambda_l2": float(p["lambda_l2"]),
            "num_threads": 1,
            "deterministic": True,
            "force_row_wise": True,
            "seed": seed,
            "verbosity": -1,
            **({"monotone_constraints": monotone_constraints(features.dense.shape[1])} if p["monotone"] else {}),
            **dict(p.get("lightgbm", {})),  # any other LightGBM setting, by its own name
        }
        dataset = lgb.Dataset(tree_features(features.dense[order]), examples.labels[order], group=sizes)
        booster = lgb.train(settings, dataset, num_boost_round=int(p["trees"]))
        return cls(examples.space, p, booster, recall)

    def logits(self, batch: FeatureBatch) -> np.ndarray:
        """Scores float32 [n] for a batch's pairs (one `predict`; higher is better, no probability scale)."""
        if len(batch.dense) == 0:
            return np.zeros(0, dtype=np.float32)
        # one thread: a serving worker scores one list at a time, and an OpenMP pool per call would spin on cores
        # the mesh's other processes use (about 1 ms for 400 candidates on one thread)
        return np.asarray(self.booster.predict(tree_features(batch.dense), num_threads=1), dtype=np.float32)

    def save(self, directory: Path) -> None:
        write_meta(directory, self.kind, self.params)
        (directory / "features.json").write_text(json.dumps(self.space.to_json()))
        self.booster.save_model(str(directory / "trees.txt"))

    @classmethod
    def load(cls, directory: Path, recall: Mapping[str, RecallModel] | None = None) -> GradientBoostedRanker:
        import lightgbm as lgb

        meta = read_meta(directory)
        space = FeatureSpace(**json.loads((directory / "features.json").read_text()))
        booster = lgb.Booster(model_file=str(directory / "trees.txt"))
        return cls(space, meta["params"], booster, recall)
