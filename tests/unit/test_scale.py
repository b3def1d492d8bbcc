"""The scalable forms past a catalog size (issue 14, 10x data): each must agree with the exact form it replaces
on small data, where both can run, and the bounds (learning users, evaluated users) must hold."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lemo.datasets.synthetic import tenant
from lemo.evaluation import shared_pairs
from lemo.evaluation.protocol import (
    evaluate_pipeline,
    evaluate_ranker,
    evaluate_ranker_shared,
    evaluate_trained,
    holdout_users,
    sample_users,
)
from lemo.models import RankingExamples, neighbors, ranking_features, train_model, train_recall
from lemo.models.base import top_k, top_k_rows
from lemo.models.linear import spd_inverse
from lemo.models.neighbors import CosineSide, shrunk_cosine, sparse_shrunk_cosine
from lemo.models.rankers import LearnedRanker, learning_users
from lemo_cli.bench_local import bench_local, table
from tests.unit.synthetic_data import planted


def test_sparse_item_similarity_equals_the_dense_one() -> None:
    rng = np.random.default_rng(0)
    items = sp.random(300, 80, density=0.05, random_state=1, format="csr", dtype=np.float32)
    items.data = rng.integers(1, 4, items.nnz).astype(np.float32)  # weighted, as purchases are
    side = CosineSide.of(items)
    full_dense = shrunk_cosine(items, side, 10.0, 1000).toarray()
    full_sparse = sparse_shrunk_cosine(items, side, 10.0, 1000).toarray()
    np.testing.assert_allclose(full_sparse, full_dense, rtol=1e-5, atol=1e-7)
    pruned = sparse_shrunk_cosine(items, side, 10.0, 5)
    assert np.diff(pruned.indptr).max() <= 5
    # each kept row holds that row's 5 largest similarities
    for row in (0, 17, 123):
        np.testing.assert_allclose(
            np.sort(pruned[row].toarray().ravel())[-5:], np.sort(full_dense[row])[-5:], rtol=1e-5, atol=1e-7
        )


def test_item_cf_past_the_sparse_size_recommends_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    data = planted()
    dense = train_recall("item_cf", data)
    monkeypatch.setattr(neighbors, "SPARSE_PAST", 0)
    sparse = train_recall("item_cf", data)
    history = data.histories()[0]
    assert [i for i, _ in sparse.recommend(history, 5)] == [i for i, _ in dense.recommend(history, 5)]


def test_spd_inverse_matches_a_general_inverse() -> None:
    x = np.random.default_rng(2).standard_normal((120, 40)).astype(np.float32)
    gram = x @ x.T + 5.0 * np.eye(120, dtype=np.float32)
    expected = np.linalg.inv(gram.astype(np.float64))
    inverse = spd_inverse(gram.copy())
    assert inverse.flags.c_contiguous
    np.testing.assert_allclose(inverse, expected, atol=1e-5)


def test_ranks_are_exact_in_the_top_and_close_beyond(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((20, 3000)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    users, items = np.repeat(np.arange(20), 50), rng.integers(0, 3000, 1000)
    finite = np.isfinite(scores)
    exact = ranking_features._ranks(scores, finite, users, items)
    reference = np.argsort(np.argsort(np.where(finite, -scores, np.inf), axis=1, kind="stable"), axis=1)
    np.testing.assert_array_equal(exact, reference[users, items])
    monkeypatch.setattr(ranking_features, "EXACT_RANK_ITEMS", 100)
    monkeypatch.setattr(ranking_features, "RANK_EXACT_TOP", 200)
    approx = ranking_features._ranks(scores, finite, users, items)
    known = finite[users, items]
    top = reference[users, items] < 200
    np.testing.assert_array_equal(approx[known & top], reference[users, items][known & top])
    far = known & ~top
    assert np.abs(approx[far] - reference[users, items][far]).max() < 0.1 * 3000


def test_synthetic_tenant_is_seeded_and_sized() -> None:
    a, b = tenant(5000, 800, 400, seed=1), tenant(5000, 800, 400, seed=1)
    assert a.events.equals(b.events)
    assert abs(len(a.events) - 5000) <= 50  # about the target: duplicates are drawn again for a few rounds
    assert not a.events.duplicated(["user_id", "item_id"]).any()
    assert a.events["user_id"].nunique() == 400 and len(a.items) == 800 and len(a.users) == 400
    assert not a.events.equals(tenant(5000, 800, 400, seed=2).events)


def test_evaluation_sample_is_seeded_and_bounded() -> None:
    _, holdout = planted().split(0.3, seed=0)
    sample = sample_users(holdout, 25, seed=4)
    assert len(holdout_users(sample)) == 25
    assert set(holdout_users(sample)) <= set(holdout_users(holdout))
    np.testing.assert_array_equal(sample.rows, sample_users(holdout, 25, seed=4).rows)
    assert sample_users(holdout, 10_000) is holdout


def test_rankers_learn_from_at_most_max_users_and_share_examples() -> None:
    data = planted()
    recall = {k: train_recall(k, data) for k in ("ease", "item_cf")}
    few = RankingExamples.build(data, recall, {"max_users": 15})
    assert len(np.unique(few.features.fields[:, 0])) <= 15
    everyone = RankingExamples.build(data, recall, {"max_users": 0})
    assert len(np.unique(everyone.features.fields[:, 0])) > 15
    assert RankingExamples.build(data, recall, {"max_users": 0}) is everyone  # the next ranker of the run


def test_local_bench_times_every_step_and_decides_the_guard() -> None:
    result = bench_local(3000, 300, 200, kinds=["popular", "ease", "fusion"])
    steps = [s["step"] for s in result["steps"]]
    trained = ["train popular", "train ease", "train fusion"]
    evaluated = ["evaluate popular", "evaluate ease", "evaluate fusion"]
    assert steps[2:] == ["features", *trained, *evaluated, "index vectors"]
    assert all(s["peak_gb"] > 0 for s in result["steps"])
    assert "fusion" in result["guard"] and "alone" in result["guard"]["fusion"]
    assert result["metrics"]["ease"]["ndcg@10"] > 0
    assert "workflow wall time, one step at a time" in table(result)


def test_local_bench_runs_the_steps_as_the_workflow_schedules_them() -> None:
    result = bench_local(3000, 300, 200, kinds=["popular", "ease", "fusion"], concurrent=True)
    overlapping = {s["step"].strip().removesuffix(" (overlapping)"): s for s in result["steps"] if "from_s" in s}
    assert set(overlapping) == {
        "train popular",
        "train ease",
        "train fusion",
        "evaluate popular",
        "evaluate ease",
        "evaluate fusion",
        "index vectors",
    }
    assert overlapping["train fusion"]["from_s"] >= overlapping["train ease"]["to_s"]  # after its fused channel
    assert overlapping["evaluate fusion"]["from_s"] >= overlapping["train fusion"]["to_s"]
    assert result["mode"] == "concurrent" and result["wall_seconds"] > 0
    assert "alone" in result["guard"]["fusion"]


def test_evaluate_trained_scores_a_ranker_pipeline_on_the_channels_users() -> None:
    train, holdout = planted().split(0.3, seed=0)
    recall = {"ease": train_recall("ease", train)}
    ranker = train_model("fusion", train, recall=recall)
    assert isinstance(ranker, LearnedRanker)
    metrics = evaluate_trained(ranker, recall, train, holdout, max_users=40)
    assert {"auc", "pipeline_ndcg@10"} <= set(metrics)
    assert metrics["evaluated_users"] == 40  # the sample, stated beside the metrics
    assert 0 < ranker.params["learning_users"] <= train.n_users  # stated in the model list's params
    assert metrics["pipeline_ndcg@10"] > 0.2


def test_rankers_share_the_channels_work_and_score_as_evaluated_alone() -> None:
    train, holdout = planted().split(0.3, seed=0)
    recall = {k: train_recall(k, train) for k in ("ease", "item_cf")}
    fusion, deepfm = (train_model(kind, train, recall=recall) for kind in ("fusion", "deepfm"))
    assert isinstance(fusion, LearnedRanker) and isinstance(deepfm, LearnedRanker)
    shared = evaluate_ranker_shared(fusion, recall, train, holdout, holdout, (0, 42))
    alone = evaluate_ranker(fusion, train, holdout) | {
        f"pipeline_{name}": value for name, value in evaluate_pipeline(recall, fusion, train, holdout).items()
    }
    for name in ("auc", "logloss", "pipeline_ndcg@10", "pipeline_recall@10", "pipeline_coverage"):
        assert shared[name] == pytest.approx(alone[name], abs=1e-6), name
    first = shared_pairs._cache["last"][3].result()
    pairs = shared_pairs.shared_pairs(
        deepfm, recall, train, holdout, holdout_users(holdout), holdout=holdout, key=(0, 42), seed=42
    )
    assert pairs is first  # the second ranker reuses the first one's pairs


def test_top_k_rows_is_top_k_of_every_row() -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 50, (30, 200)).astype(np.float32)  # many ties
    scores[rng.random(scores.shape) < 0.3] = np.nan
    scores[3] = np.nan
    scores[4, 5:] = np.nan  # fewer finite scores than k
    rows = top_k_rows(scores, 20)
    for n in range(len(scores)):
        expected = top_k(scores[n], 20)
        assert rows[n][rows[n] >= 0].tolist() == expected.tolist() or len(expected) == 20
        np.testing.assert_array_equal(np.sort(scores[n][rows[n][rows[n] >= 0]]), np.sort(scores[n][expected]))


def test_learning_users_shrink_past_a_catalog_size() -> None:
    params = {"max_users": 10_000, "max_user_items": 500_000_000}
    assert learning_users(params, 1_682) == 10_000  # MovieLens-100k: as before
    assert learning_users(params, 100_000) == 5_000
    assert learning_users(params, 10_000_000) == 1_000
    assert learning_users({"max_users": 0, "max_user_items": 0}, 100_000) == 0
