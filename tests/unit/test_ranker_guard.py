"""The ranker guard: a learned ranker serves only when its pipeline beats the best single channel on the
validation split; otherwise that channel's order serves, and the reason travels with the version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lemo.models import RecallModel, TrainingData, train_model
from lemo.models.base import CatalogRecall
from lemo.models.channel_order import ChannelOrder
from lemo.models.ranking_features import id_vocabulary
from lemo.registry import ActivationPolicy, ModelVersion, decide_activation, ranker_guard
from tests.unit.synthetic_data import planted

CHANNELS = {"ease": {"ndcg@10": 0.30}, "item_cf": {"ndcg@10": 0.25}, "als": {"auc": 0.9}}


def test_the_ranker_serves_when_its_pipeline_beats_the_best_channel() -> None:
    decision = ranker_guard({"auc": 0.8, "pipeline_ndcg@10": 0.31}, CHANNELS)
    assert (decision.serve_ranker, decision.channel) == (True, "ease")
    assert decision.reason == "pipeline ndcg@10 0.3100 > ease alone 0.3000"


@pytest.mark.parametrize("pipeline", [0.30, 0.2999, 0.1])
def test_a_tie_or_a_loss_serves_the_best_channel_instead(pipeline: float) -> None:
    decision = ranker_guard({"auc": 0.95, "pipeline_ndcg@10": pipeline}, CHANNELS)
    assert (decision.serve_ranker, decision.channel) == (False, "ease")
    assert decision.reason.endswith("<= ease alone 0.3000; ease's order serves")


def test_an_unmeasured_pipeline_does_not_serve_and_no_channel_means_nothing_to_guard() -> None:
    assert ranker_guard({"auc": 0.99}, CHANNELS).serve_ranker is False
    assert ranker_guard({"auc": 0.99}, {}).serve_ranker is True
    assert ranker_guard({"auc": 0.99}, {"als": {"auc": 0.9}}).serve_ranker is True  # no channel has the metric


def _ranker(version: int, auc: float, serves: str | None = None) -> ModelVersion:
    return ModelVersion(
        tenant_id="t",
        kind="deepfm",
        version=version,
        run_id=f"r{version}",
        metrics={"auc": auc},
        artifact_uri="file:///x",
        serves=serves,
        note="why" if serves else "",
        created_at=0.0,
    )


def test_activation_puts_a_fallback_in_force_and_lets_a_passing_ranker_replace_it() -> None:
    good, fallback = _ranker(1, 0.9), _ranker(2, 0.95, serves="ease")
    # the guard's fallback replaces an active ranker, whatever its AUC, unless activation is manual
    assert decide_activation(fallback, good, ActivationPolicy.BETTER, "auc") == (True, "ranker not served: why")
    assert decide_activation(fallback, good, ActivationPolicy.MANUAL, "auc")[0] is False
    # a ranker that passed its guard replaces a fallback even with a lower AUC
    assert decide_activation(_ranker(3, 0.7), fallback, ActivationPolicy.BETTER, "auc")[0] is True
    # between two passing rankers the usual rule holds
    assert decide_activation(_ranker(3, 0.7), good, ActivationPolicy.BETTER, "auc")[0] is False


def test_channel_order_ranks_candidates_as_the_channel_does() -> None:
    data: TrainingData = planted()
    model = train_model("ease", data)
    assert isinstance(model, CatalogRecall) and isinstance(model, RecallModel)
    history = data.histories()[0]
    expected = [item for item, score in model.recommend(history, 8, user_id=data.user_ids[0]) if score > 0]
    assert len(expected) >= 3
    candidates = [*reversed(expected), "not-in-catalog"]
    order = ChannelOrder("ease", model, "deepfm v1: lost")
    scores = order.score(data.user_ids[0], history, candidates)
    ranked = [candidates[n] for n in np.argsort(-scores, kind="stable")]
    assert ranked == [*expected, "not-in-catalog"]
    assert order.fallback_reason == "deepfm v1: lost"


def test_only_items_labelled_positive_often_enough_keep_an_id_vector() -> None:
    items = np.array([1, 1, 1, 2, 2, 3, 4, 4])
    labels = np.array([1, 1, 0, 1, 0, 0, 1, 1], dtype=np.float32)
    assert id_vocabulary(items, labels, 2) == [1, 4]
    assert id_vocabulary(items, labels, 1) == [1, 2, 4]
    assert id_vocabulary(items, labels, 0) is None  # every item, as before the rule


def test_ease_steps_aside_past_its_catalog_size_and_says_so() -> None:
    from lemo.datasets.synthetic import SyntheticShape, generate
    from lemo.models.linear import Ease, coverage_note

    data = generate(SyntheticShape(n_users=100, n_items=300, mean_history=8, cold_share=0.3, seed=2))
    interacted = len(np.unique(data.cols))
    full = Ease.train(data, {})
    assert full.params["modelled_items"] == interacted < data.n_items == full.params["catalog_items"]
    capped = Ease.train(data, {"max_items": 50})
    assert len(capped.item_ids) == capped.params["modelled_items"] == 50
    assert coverage_note(capped.params).startswith("models 50 of 300 items")
    assert coverage_note({"modelled_items": 300, "catalog_items": 300}) == ""


def test_the_ranking_app_loads_the_channel_order_for_a_guarded_version(tmp_path: Path) -> None:
    from apps.ranking.pool import ArtifactLoader
    from lemo.artifacts import ArtifactStore

    store = ArtifactStore(tmp_path.as_uri())
    data = planted()
    ease = train_model("ease", data)
    final = store.model_dir("t", "ease", "r1")
    with store.writing(final) as tmp:
        ease.save(tmp)
    version = _ranker(2, 0.8, serves="ease")
    model = ArtifactLoader(store)(version, {"ease": store.uri(final)})
    assert isinstance(model, ChannelOrder) and model.channel == "ease"
    assert model.fallback_reason == "deepfm v2: why"
