"""Recall models on planted structure, persistence, and the unknown-id rules the serving apps rely on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lemo.models import RECALL_KINDS, RecallModel, TrainingData, load_model, train_model
from lemo.models.two_tower import TwoTower
from tests.unit.synthetic_data import ITEMS_PER_CLUSTER, cluster_of_item, cluster_of_user, planted

# Enough epochs for the neural model to find four clusters in a 120-user dataset, still well under a second.
FAST: dict[str, dict[str, object]] = {"two_tower": {"epochs": 40, "dim": 16, "batch_size": 32}}
COLLABORATIVE = ("item_cf", "user_cf", "als", "two_tower", "ease")


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return planted()


@pytest.fixture(scope="module")
def models(data: TrainingData) -> dict[str, RecallModel]:
    trained = {}
    for kind in [k for k in RECALL_KINDS if k != "content"]:  # content: tests/unit/test_text.py
        model = train_model(kind, data, FAST.get(kind), seed=1)
        assert isinstance(model, RecallModel)
        trained[kind] = model
    return trained


@pytest.mark.parametrize("kind", COLLABORATIVE)
def test_each_channel_recommends_the_users_own_cluster(
    kind: str, models: dict[str, RecallModel], data: TrainingData
) -> None:
    histories = data.histories()
    in_cluster = []
    for user, history in zip(data.user_ids, histories, strict=True):
        top = models[kind].recommend(history, 3, user_id=user)
        assert len(top) == 3 and not set(history) & {i for i, _ in top}
        in_cluster += [cluster_of_item(i) == cluster_of_user(user) for i, _ in top]
    assert np.mean(in_cluster) > 0.9  # random would be 0.25


@pytest.mark.parametrize("kind", COLLABORATIVE)
def test_unknown_users_fold_in_from_history_and_unknown_ids_never_raise(
    kind: str, models: dict[str, RecallModel]
) -> None:
    model = models[kind]
    top = model.recommend(["i-0", "i-1", "i-2", "no-such-item"], 5, user_id="never-seen")
    assert [cluster_of_item(i) for i, _ in top] == [0] * 5
    assert model.recommend([], 5, user_id="never-seen") == []
    assert model.recommend(["no-such-item"], 5) == []
    assert model.similar_items("no-such-item", 5) == []
    similar = model.similar_items("i-0", 3)
    assert similar and "i-0" not in {i for i, _ in similar}


def test_exclude_and_k_are_honoured(models: dict[str, RecallModel]) -> None:
    first = models["ease"].recommend(["i-0", "i-1"], 2)
    again = models["ease"].recommend(["i-0", "i-1"], 2, exclude=[first[0][0]])
    assert first[0][0] not in {i for i, _ in again} and len(again) == 2
    assert len(models["ease"].recommend(["i-0"], 1000)) == 4 * ITEMS_PER_CLUSTER - 1


def test_popular_serves_the_most_popular_unseen_items_to_anyone(
    models: dict[str, RecallModel], data: TrainingData
) -> None:
    counts = data.item_popularity()
    top = models["popular"].recommend([], 4)
    assert [counts[data.item_index[i]] for i, _ in top] == sorted(counts, reverse=True)[:4]
    assert top[0][0] not in {i for i, _ in models["popular"].recommend([top[0][0]], 4)}


@pytest.mark.parametrize("kind", [k for k in RECALL_KINDS if k != "content"])
def test_save_and_load_give_identical_recommendations(
    kind: str, models: dict[str, RecallModel], tmp_path: Path
) -> None:
    models[kind].save(tmp_path / kind)
    loaded = load_model(kind, tmp_path / kind)
    assert isinstance(loaded, RecallModel) and loaded.params == models[kind].params
    for history, user in ((["i-0", "i-13"], "u-0"), (["i-40"], None)):
        assert loaded.recommend(history, 10, user_id=user) == models[kind].recommend(history, 10, user_id=user)
    assert loaded.similar_items("i-5", 5) == models[kind].similar_items("i-5", 5)
    assert not any(p.suffix == ".pkl" for p in (tmp_path / kind).iterdir())


def test_load_refuses_a_directory_of_another_kind(models: dict[str, RecallModel], tmp_path: Path) -> None:
    models["ease"].save(tmp_path)
    with pytest.raises(ValueError, match="ease"):
        load_model("als", tmp_path)


def test_two_tower_vectors_for_the_ann_index(models: dict[str, RecallModel]) -> None:
    model = models["two_tower"]
    assert isinstance(model, TwoTower)
    ids, vectors = model.item_vectors()
    assert len(ids) == vectors.shape[0] == 48 and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    user = model.user_vector(["i-0", "i-1"])
    assert user is not None and user.shape == (vectors.shape[1],)
    assert model.user_vector([]) is None and model.user_vector(["nope"]) is None
    assert model.user_vector([], user_id="u-0") is not None  # a trained user needs no history
    best = ids[int(np.argmax(vectors @ user))]
    assert cluster_of_item(best) == 0


def test_unknown_kind_is_rejected(data: TrainingData) -> None:
    with pytest.raises(ValueError, match="unknown model kind"):
        train_model("nope", data)
