"""The boosted-trees ranker (`gbdt`): it learns from the channels' opinions, is reproducible for a seed, survives
a save and load, and the ranker guard serves it only when its pipeline beats the best channel alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lemo.datasets.synthetic import SyntheticShape, generate
from lemo.evaluation import evaluate_pipeline, evaluate_ranker, evaluate_recall
from lemo.models import RankingExamples, RecallModel, TrainingData, UserMeta, load_model, train_model
from lemo.models.gbdt_ranker import GradientBoostedRanker, monotone_constraints, tree_features
from lemo.models.ranking_features import FeatureBatch
from lemo.registry import PIPELINE_PREFIX, ranker_guard

# Small enough for a unit test: a few hundred users, a catalog with tastes and a popularity tail.
SHAPE = SyntheticShape(n_users=300, n_items=400, mean_history=20, n_tastes=6, seed=5)
FAST = {"candidates_per_channel": 30, "trees": 60, "min_child_samples": 50}


@pytest.fixture(scope="module")
def split() -> tuple[TrainingData, TrainingData]:
    return generate(SHAPE).split(0.25, seed=42)


@pytest.fixture(scope="module")
def channels(split: tuple[TrainingData, TrainingData]) -> dict[str, RecallModel]:
    models = {kind: train_model(kind, split[0]) for kind in ("item_cf", "popular")}
    return {name: m for name, m in models.items() if isinstance(m, RecallModel)}


@pytest.fixture(scope="module")
def examples(split: tuple[TrainingData, TrainingData], channels: dict[str, RecallModel]) -> RankingExamples:
    return RankingExamples.build(split[0], channels, FAST, seed=1)


def _train(
    split: tuple[TrainingData, TrainingData],
    channels: dict[str, RecallModel],
    examples: RankingExamples,
    seed: int = 1,
) -> GradientBoostedRanker:
    model = train_model("gbdt", split[0], FAST, seed=seed, recall=channels, examples=examples)
    assert isinstance(model, GradientBoostedRanker)
    return model


def test_missing_channel_scores_become_missing_and_aggregates_follow() -> None:
    # history columns, then (z, reciprocal rank) for two channels: the second did not retrieve the first pair
    dense = np.array([[0.5, 0.1, 0.2, 1.5, 0.5, 3.0, 0.0], [0.5, 0.1, 0.2, 0.0, 0.0, 0.0, 0.0]], np.float32)
    out = tree_features(dense)
    assert out.shape == (2, 11)
    assert out[0, 3] == 1.5 and np.isnan(out[0, 5]) and np.isnan(out[1, 3]) and np.isnan(out[1, 5])
    assert out[0, 7:].tolist() == [0.5, 1.0, 0.5, 1.5]  # sum and count of ranks, best rank, mean z
    assert out[1, 7:].tolist() == [0.0, 0.0, 0.0, -10.0]  # retrieved by no channel


def test_a_candidate_ranked_higher_by_a_channel_never_scores_lower(
    split: tuple[TrainingData, TrainingData], channels: dict[str, RecallModel], examples: RankingExamples
) -> None:
    # the trees learn from each user's top candidates only; the constraint keeps items further down every
    # channel's list (random items, the AUC's negatives) from landing in a leaf that scores them higher
    assert monotone_constraints(7) == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    model = _train(split, channels, examples)
    dense = examples.features.dense[:500]
    batch = FeatureBatch(examples.features.fields[:500], dense, examples.features.items[:500])
    base = model.logits(batch)
    for z_column in range(3, dense.shape[1], 2):  # per channel (z-score, reciprocal rank)
        retrieved = dense[:, z_column + 1] > 0
        for column, worse_value in ((z_column, dense[:, z_column] - 0.5), (z_column + 1, dense[:, z_column + 1] / 2)):
            worse = dense.copy()
            worse[retrieved, column] = worse_value[retrieved]
            assert (model.logits(replace(batch, dense=worse)) <= base + 1e-6).all()
    free = _train_free(split, channels, examples)
    assert not np.array_equal(free.logits(batch), base)  # the constraint changes the trees


def _train_free(
    split: tuple[TrainingData, TrainingData], channels: dict[str, RecallModel], examples: RankingExamples
) -> GradientBoostedRanker:
    model = train_model("gbdt", split[0], {**FAST, "monotone": False}, seed=1, recall=channels, examples=examples)
    assert isinstance(model, GradientBoostedRanker)
    return model


def test_it_learns_the_signal_and_not_noise(
    split: tuple[TrainingData, TrainingData], channels: dict[str, RecallModel], examples: RankingExamples
) -> None:
    model = _train(split, channels, examples)
    assert evaluate_ranker(model, *split)["auc"] > 0.65
    shuffled = replace(examples, labels=np.random.default_rng(0).permutation(examples.labels))
    noise = _train(split, channels, shuffled)
    learned = evaluate_pipeline(channels, model, *split, candidates_per_channel=30)["ndcg@10"]
    guessed = evaluate_pipeline(channels, noise, *split, candidates_per_channel=30)["ndcg@10"]
    assert learned > guessed + 0.02


def test_the_same_seed_gives_the_same_scores_and_a_saved_model_scores_the_same(
    split: tuple[TrainingData, TrainingData],
    channels: dict[str, RecallModel],
    examples: RankingExamples,
    tmp_path: Path,
) -> None:
    first, second = _train(split, channels, examples), _train(split, channels, examples)
    user, history = UserMeta(split[0].user_ids[0]), split[0].histories()[0]
    candidates = [*split[0].item_ids[:50], "never-seen-item"]
    scores = first.score(user, history, candidates)
    assert scores.shape == (51,) and np.isfinite(scores).all()
    assert np.array_equal(scores, second.score(user, history, candidates))
    first.save(tmp_path)
    loaded = load_model("gbdt", tmp_path, recall=channels)
    assert isinstance(loaded, GradientBoostedRanker)
    assert np.allclose(loaded.score(user, history, candidates), scores)
    assert first.score(user, history, []).shape == (0,)


def test_the_guard_serves_the_trees_only_when_their_pipeline_beats_the_best_channel(
    split: tuple[TrainingData, TrainingData], channels: dict[str, RecallModel], examples: RankingExamples
) -> None:
    alone = {name: evaluate_recall(m, *split) for name, m in channels.items()}
    best = max(alone, key=lambda name: alone[name]["ndcg@10"])
    shuffled = replace(examples, labels=np.random.default_rng(0).permutation(examples.labels))
    served = []
    for model in (_train(split, channels, examples), _train(split, channels, shuffled)):
        pipeline = evaluate_pipeline(channels, model, *split, candidates_per_channel=30)
        decision = ranker_guard({PIPELINE_PREFIX + k: v for k, v in pipeline.items()}, alone, "ndcg@10")
        assert decision.channel == best
        served.append(decision.serve_ranker)
    # trees that learned the signal beat the best channel (here 0.34 against item_cf's 0.33) and serve; trees
    # that learned from shuffled labels order the candidates at random, and the channel serves instead
    assert served == [True, False]


def test_tuning_scores_every_grid_point_on_each_validation_split(split: tuple[TrainingData, TrainingData]) -> None:
    from lemo.evaluation.tuning import tune_ranker

    grid = [{"trees": 5, "min_child_samples": 50}, {"trees": 40, "min_child_samples": 50}]
    results = tune_ranker(
        split[0], grid, channels=("item_cf", "popular"), split_seeds=(43, 44), candidates_per_channel=20
    )
    assert sorted(r[0]["trees"] for r in results) == [5, 40]
    assert all(len(values) == 2 and all(0.0 < v <= 1.0 for v in values) for _, values in results)
    means = [sum(values) / 2 for _, values in results]
    assert means == sorted(means, reverse=True)  # best first
