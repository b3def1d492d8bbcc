"""Hyper-parameter search on a validation split carved from the training part, never on the test split.

The defaults in each model module were chosen with `tune` (see docs/evaluation.md): the training part of the
evaluation split is split again per user (same ratio, seed + 1), every grid point is trained on the fit part and
scored by NDCG@k on the validation part, and the best point became the default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

from lemo.evaluation.protocol import evaluate_recall
from lemo.models import TrainingData
from lemo.models.recall_kinds import train_recall

GRIDS: dict[str, list[dict[str, Any]]] = {
    "ease": [{"l2": v} for v in (100.0, 200.0, 300.0, 500.0, 800.0, 1200.0)],
    "item_cf": [{"neighbors": n, "shrink": s} for n in (50, 100, 200, 400) for s in (0.0, 10.0, 50.0)],
    "user_cf": [{"neighbors": n, "shrink": s} for n in (25, 50, 100, 200) for s in (0.0, 10.0, 50.0)],
    "als": [
        {"factors": f, "regularization": r, "alpha": a}
        for f in (32, 64, 128)
        for r in (0.05, 1.0, 10.0)
        for a in (1.0, 5.0, 20.0)
    ],
    "two_tower": [{"dim": d, "epochs": e, "lr": lr} for d in (32, 64) for e in (10, 20) for lr in (0.003, 0.01)],
}


def tune(
    train: TrainingData, kinds: Iterable[str], *, k: int = 10, seed: int = 42, test_ratio: float = 0.25
) -> dict[str, list[tuple[dict[str, Any], float]]]:
    """Validation NDCG@k of every grid point per kind, best first."""
    fit, valid = train.split(test_ratio, seed=seed + 1)
    results: dict[str, list[tuple[dict[str, Any], float]]] = {}
    for kind in kinds:
        scored = []
        for params in tqdm(GRIDS.get(kind, [{}]), desc=f"tune {kind}", leave=False):
            model = train_recall(kind, fit, params, seed=seed)
            scored.append((params, evaluate_recall(model, fit, valid, k)[f"ndcg@{k}"]))
        results[kind] = sorted(scored, key=lambda p: -p[1])
    return results


def tune_discount(
    train: TrainingData,
    l2s: Iterable[float] = (200.0, 400.0, 800.0, 1200.0, 1600.0),
    betas: Iterable[float] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5),
    *,
    k: int = 10,
    seed: int = 42,
    test_ratio: float = 0.25,
) -> list[tuple[float, float, float]]:
    """Validation NDCG@k of EASE at each l2 with each popularity discount beta on its top candidates
    (lemo.evaluation.tradeoff), as (l2, beta, ndcg), best first."""
    from lemo.evaluation.tradeoff import popularity_tradeoff  # the trade-off module imports the protocol's rerank

    fit, valid = train.split(test_ratio, seed=seed + 1)
    scored = []
    for l2 in l2s:
        model = train_recall("ease", fit, {"l2": l2}, seed=seed)
        for point in popularity_tradeoff(model, fit, valid, k, tuple(betas)):
            scored.append((l2, point.value, point.metrics[f"ndcg@{k}"]))
    return sorted(scored, key=lambda s: -s[2])
