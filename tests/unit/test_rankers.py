"""Learned rankers: they separate planted positives from random items, score unknown ids, and persist."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lemo.evaluation import evaluate_ranker
from lemo.models import RANKER_KINDS, RankerModel, RankingExamples, RecallModel, TrainingData, UserMeta, load_model
from lemo.models import train_model as train
from lemo.models.rankers import LearnedRanker
from tests.unit.synthetic_data import planted

FAST = {"epochs": 6, "candidates_per_channel": 20}


@pytest.fixture(scope="module")
def split() -> tuple[TrainingData, TrainingData]:
    return planted().split(0.25, seed=42)


@pytest.fixture(scope="module")
def channels(split: tuple[TrainingData, TrainingData]) -> dict[str, RecallModel]:
    models = {kind: train(kind, split[0]) for kind in ("ease", "item_cf")}
    return {name: m for name, m in models.items() if isinstance(m, RecallModel)}


@pytest.fixture(scope="module")
def rankers(split: tuple[TrainingData, TrainingData], channels: dict[str, RecallModel]) -> dict[str, LearnedRanker]:
    examples = RankingExamples.build(split[0], channels, FAST, seed=1)
    trained = {}
    for kind in RANKER_KINDS:
        model = train(kind, split[0], FAST, seed=1, recall=channels, examples=examples)
        assert isinstance(model, LearnedRanker) and isinstance(model, RankerModel)
        trained[kind] = model
    return trained


@pytest.mark.parametrize("kind", RANKER_KINDS)
def test_fused_ranker_separates_holdout_positives_from_random_items(
    kind: str, rankers: dict[str, LearnedRanker], split: tuple[TrainingData, TrainingData]
) -> None:
    assert evaluate_ranker(rankers[kind], *split)["auc"] > 0.8


@pytest.mark.parametrize("kind", ["deepfm", "wide_deep"])
def test_ranker_without_channels_learns_from_ids_and_metadata(
    kind: str, split: tuple[TrainingData, TrainingData]
) -> None:
    model = train(kind, split[0], {"epochs": 15}, seed=1)
    assert isinstance(model, LearnedRanker)
    assert evaluate_ranker(model, *split)["auc"] > 0.8


def test_score_shape_unknown_ids_and_empty_candidates(rankers: dict[str, LearnedRanker]) -> None:
    candidates = [f"i-{n}" for n in range(48)] + ["brand-new-item"]
    for model in rankers.values():
        scores = model.score(UserMeta("u-0", {"group": "g0"}), ["i-0", "i-1"], candidates)
        assert scores.shape == (49,) and scores.dtype == np.float32 and np.isfinite(scores).all()
        stranger = model.score(UserMeta("stranger", {"group": "unheard-of"}), ["nope"], candidates)
        assert np.isfinite(stranger).all()
        assert model.score("u-0", [], candidates).shape == (49,)
        assert model.score(None, [], []).shape == (0,)


def test_many_candidates_in_one_call(rankers: dict[str, LearnedRanker]) -> None:
    candidates = [f"i-{n % 48}" for n in range(600)]
    assert rankers["deepfm"].score(UserMeta("u-3"), ["i-2"], candidates).shape == (600,)


@pytest.mark.parametrize("kind", RANKER_KINDS)
def test_save_and_load_give_identical_scores(
    kind: str, rankers: dict[str, LearnedRanker], channels: dict[str, RecallModel], tmp_path: Path
) -> None:
    rankers[kind].save(tmp_path)
    loaded = load_model(kind, tmp_path, recall=channels)
    assert isinstance(loaded, LearnedRanker) and loaded.params == rankers[kind].params
    args = (UserMeta("u-40", {"group": "g1", "age": 31}), ["i-12", "i-13"], [f"i-{n}" for n in range(48)])
    np.testing.assert_array_equal(loaded.score(*args), rankers[kind].score(*args))
    without_channels = load_model(kind, tmp_path)
    assert isinstance(without_channels, LearnedRanker)
    assert np.isfinite(without_channels.score(*args)).all()  # missing channels score as "not retrieved"
