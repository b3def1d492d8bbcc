"""ALS on a sparse tenant: its regularization grows with sparsity, so it no longer falls far below popularity
(issue 14: NDCG@10 0.03 against popular's 0.13 at 1,000,000 events, 100,000 items and 100,000 users)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lemo.datasets.synthetic import tenant
from lemo.evaluation.protocol import evaluate_recall
from lemo.models import ItemMeta, RecallModel, TrainingData, load_model, train_model
from lemo.models.factors import (
    ALS_DEFAULTS,
    COLLAPSE_MARGIN,
    REFERENCE_POSITIVE_SHARE,
    Als,
    collapse_regularization,
    effective_regularization,
    positive_share,
)


@pytest.fixture(scope="module")
def split() -> tuple[TrainingData, TrainingData]:
    """A few thousand clicks in the 1M tenant's shape: ~5 per user, 2,000 items, Zipf popularity, 20 tastes."""
    export = tenant(5000, 2000, 1000, seed=0)
    e = export.events
    items = [ItemMeta(d["item_id"], d["title"], d["categories"]) for d in export.items]
    return TrainingData.from_columns(e.user_id, e.item_id, e.type, e.timestamp, items).split(0.2, seed=42)


def ndcg(kind: str, train: TrainingData, test: TrainingData, params: dict[str, object] | None = None) -> float:
    model = train_model(kind, train, params, seed=42)
    assert isinstance(model, RecallModel)
    return evaluate_recall(model, train, test)["ndcg@10"]


def test_als_holds_up_against_popularity_on_a_sparse_tenant(split: tuple[TrainingData, TrainingData]) -> None:
    train, test = split
    popular = ndcg("popular", train, test)
    assert ndcg("als", train, test) >= 0.9 * popular
    # The regularization tuned on MovieLens-100k before, applied as given: the collapse this guards against.
    assert ndcg("als", train, test, {"regularization": 10.0, "regularization_exponent": 0.0}) < 0.5 * popular


def test_regularization_applies_as_given_on_dense_data_and_grows_with_sparsity(
    split: tuple[TrainingData, TrainingData],
) -> None:
    train, _ = split
    dense = TrainingData.from_columns(
        [f"u{u}" for u in range(50) for _ in range(40)],
        [f"i{i}" for _ in range(50) for i in range(40)],
        ["click"] * 2000,
        [0.0] * 2000,
    )
    assert positive_share(dense.matrix, ALS_DEFAULTS["alpha"]) >= REFERENCE_POSITIVE_SHARE
    assert effective_regularization(dense.matrix, ALS_DEFAULTS) == ALS_DEFAULTS["regularization"]
    grown = effective_regularization(train.matrix, ALS_DEFAULTS)
    assert ALS_DEFAULTS["regularization"] < grown <= COLLAPSE_MARGIN * collapse_regularization(train.matrix, 5.0)


def test_fold_in_uses_the_regularization_the_model_was_trained_with(
    split: tuple[TrainingData, TrainingData], tmp_path: Path
) -> None:
    train, _ = split
    model = train_model("als", train, seed=42)
    assert isinstance(model, Als)
    model.save(tmp_path)
    loaded = load_model("als", tmp_path)
    assert isinstance(loaded, Als)
    rows = train.matrix[:100]
    active = np.diff(rows.indptr) > 0
    learned = loaded.user_vectors(rows, train.user_ids[:100])[active]
    folded = loaded.user_vectors(rows, [None] * 100)[active]
    # implicit's conjugate-gradient steps leave the learned vectors about 0.13 from the exact solve; a fold-in with
    # the regularization as given (10 instead of the 50 trained with) lands 0.82 away.
    gap = np.linalg.norm(learned - folded, axis=1) / np.linalg.norm(learned, axis=1)
    assert np.median(gap) < 0.4
