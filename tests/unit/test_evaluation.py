"""Metric definitions against hand-computed values, the protocol on planted data, and `lemo eval --quick`."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pytest

from lemo.evaluation import classification_metrics, evaluate_recall, ndcg_at_k, ranking_metrics
from lemo.evaluation.protocol import holdout_users, merge_candidates, recall_lists, rerank
from lemo.evaluation.runner import PIPELINE_RANKER, run_protocol
from lemo.models import SMALL_TENANT_INTERACTIONS, RecallModel, factory, fused_channels, train_model, train_recall
from lemo.models.factory import FUSED_CHANNELS
from lemo_cli.eval_command import add_eval_arguments, run_eval
from tests.unit.synthetic_data import planted


def test_ndcg_by_hand() -> None:
    # hits at ranks 1 and 3; two relevant items: DCG = 1 + 1/log2(4), IDCG = 1 + 1/log2(3)
    assert ndcg_at_k(["a", "b", "c"], {"a", "c"}, 3) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["b", "a"], {"a"}, 2) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["a", "b"], {"a", "b", "c", "d"}, 2) == pytest.approx(1.0)  # IDCG over min(|rel|, k)
    assert ndcg_at_k(["x"], {"a"}, 1) == 0.0


def test_ranking_metrics_by_hand() -> None:
    metrics = ranking_metrics(
        recommendations=[["a", "b", "c"], ["d", "e", "f"], ["a", "x", "y"]],
        relevant=[{"a", "c"}, {"z"}, set()],  # the third user has no test items: not averaged
        k=3,
        catalog_size=20,
    )
    assert metrics["precision@3"] == pytest.approx((2 / 3 + 0) / 2)
    assert metrics["recall@3"] == pytest.approx((1.0 + 0) / 2)
    assert metrics["hr@3"] == pytest.approx(0.5)
    assert metrics["ndcg@3"] == pytest.approx((1.5 / (1 + 1 / math.log2(3))) / 2)
    assert metrics["coverage"] == pytest.approx(8 / 20)  # a b c d e f x y


def test_auc_and_logloss_by_hand() -> None:
    metrics = classification_metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.4, 0.5]))
    assert metrics["auc"] == pytest.approx(0.75)  # 3 of 4 positive-negative pairs in order
    probabilities = 1 / (1 + np.exp(-np.array([0.9, 0.1, 0.4, 0.5])))
    expected = -np.mean(np.log([probabilities[0], 1 - probabilities[1], probabilities[2], 1 - probabilities[3]]))
    assert metrics["logloss"] == pytest.approx(expected)


def test_merge_dedupes_in_order_and_rerank_diversifies() -> None:
    assert merge_candidates([[("a", 3.0), ("b", 2.0)], [("b", 9.0), ("c", 1.0)]]) == ["a", "b", "c"]
    ranked = [("a1", 1.0), ("a2", 0.9), ("b1", 0.8)]
    categories = {"a1": ["a"], "a2": ["a"], "b1": ["b"]}
    assert rerank(ranked, 2, categories) == ["a1", "a2"]
    assert rerank(ranked, 2, categories, diversity=0.5) == ["a1", "b1"]


def test_evaluate_recall_ranks_unseen_items_only() -> None:
    train, test = planted().split(0.25, seed=42)
    ease = train_model("ease", train)
    assert isinstance(ease, RecallModel)
    users = holdout_users(test)
    histories = train.histories()
    for user, ranked in zip(users, recall_lists(ease, train, users, 5, histories), strict=True):
        assert len(ranked) == 5 and not {i for i, _ in ranked} & set(histories[user])
    metrics = evaluate_recall(ease, train, test, k=5)
    popular = evaluate_recall(train_recall("popular", train), train, test, k=5)
    assert metrics["hr@5"] > 0.9 and metrics["ndcg@5"] > popular["ndcg@5"] + 0.1


def test_run_eval_quick_on_an_interactions_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = planted()
    lines = ["user_id,item_id,timestamp"] + [
        f"{data.user_ids[r]},{data.item_ids[c]},{1_700_000_000 + n}"
        for n, (r, c) in enumerate(zip(data.rows, data.cols, strict=True))
    ]
    path = tmp_path / "events.csv"
    path.write_text("\n".join(lines))
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    args = parser.parse_args(["--interactions", str(path), "--quick", "--quiet", "--output-dir", str(tmp_path)])
    assert run_eval(args) == 0
    out = capsys.readouterr()
    assert "| ease |" in out.out and "| pipeline (fusion) |" in out.out and "| train ease |" in out.out
    assert "content channel skipped" in out.err  # no titles in a bare interactions file
    assert (tmp_path / "evaluation.png").stat().st_size > 0
    written = (tmp_path / "evaluation.md").read_text()
    assert "lemo eval --interactions" in written
    # both protocols, each with the beyond-accuracy columns and the served pipeline the ranker guard chose
    assert "(random split)" in out.out and "(temporal split)" in out.out
    assert out.out.count("| **served** (") == 2 and out.out.count("| novelty | diversity | popularity_lift |") == 2
    assert "## Temporal split" in written and "### Ranker guard (validation split)" in written


def test_the_served_row_is_what_the_guard_chose_on_validation() -> None:
    report = run_protocol(planted(), dataset="planted", quick=True, quiet=True, channels=["ease", "item_cf"])
    decision = report.guard[PIPELINE_RANKER]
    pipeline = f"pipeline ({PIPELINE_RANKER})"
    assert report.served == (pipeline if decision.serve_ranker else decision.channel)
    assert report.rows["served"] == report.rows[report.served]
    best = max(("ease", "item_cf"), key=lambda c: report.validation[c])
    assert decision.channel == best
    assert decision.serve_ranker == (report.validation[pipeline] > report.validation[best])
    assert {"novelty", "diversity", "popularity_lift", "coverage"} <= set(report.rows["ease"])


def test_eval_rejects_unknown_channels() -> None:
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--channels", "ease,nope"])


def test_the_pipeline_fuses_two_tower_only_up_to_the_small_tenant_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fused_channels(SMALL_TENANT_INTERACTIONS) == (*FUSED_CHANNELS, "two_tower")
    assert fused_channels(SMALL_TENANT_INTERACTIONS + 1) == FUSED_CHANNELS
    data = planted()
    channels = ["ease", "two_tower"]
    small = run_protocol(data, dataset="planted", quick=True, quiet=True, channels=channels, rankers=["gbdt"])
    assert small.pipeline_channels == ["ease", "two_tower"]
    monkeypatch.setattr(factory, "SMALL_TENANT_INTERACTIONS", int(data.matrix.nnz) - 1)
    large = run_protocol(data, dataset="planted", quick=True, quiet=True, channels=channels, rankers=["gbdt"])
    assert large.pipeline_channels == ["ease"]
    assert "pipeline (gbdt)" in large.rows
