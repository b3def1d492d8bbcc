"""Hyper-parameter search on a validation split carved from the training part, never on the test split.

The defaults in each model module were chosen with `tune` (see docs/evaluation.md): the training part of the
evaluation split is split again per user (same ratio, seed + 1), every grid point is trained on the fit part and
scored by NDCG@k on the validation part, and the best point became the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tqdm import tqdm

from lemo.evaluation.protocol import evaluate_pipeline, evaluate_recall, pipeline_candidates
from lemo.models import FUSED_CHANNELS, RankingExamples, TrainingData, train_model
from lemo.models.rankers import LearnedRanker
from lemo.models.recall_kinds import train_recall

GRIDS: dict[str, list[dict[str, Any]]] = {
    "ease": [{"l2": v} for v in (100.0, 200.0, 300.0, 500.0, 800.0, 1200.0)],
    "item_cf": [{"neighbors": n, "shrink": s} for n in (50, 100, 200, 400) for s in (0.0, 10.0, 50.0)],
    "user_cf": [{"neighbors": n, "shrink": s} for n in (25, 50, 100, 200) for s in (0.0, 10.0, 50.0)],
    "als": [
        {"factors": f, "regularization": r, "alpha": a}
        for f in (32, 64, 128)
        for r in (1.0, 10.0, 40.0)
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


def tune_ranker(
    train: TrainingData,
    grid: Sequence[Mapping[str, Any]],
    *,
    kind: str = "gbdt",
    channels: Sequence[str] = FUSED_CHANNELS,
    split_seeds: Sequence[int] = (43, 44, 45),
    candidates_per_channel: int = 100,
    k: int = 10,
    seed: int = 42,
    test_ratio: float = 0.25,
) -> list[tuple[dict[str, Any], list[float]]]:
    """Validation NDCG@k of the fused pipeline with a `kind` ranker at each grid point, on several validation
    splits carved from `train` (one per seed in `split_seeds`; the protocol's guard uses seed + 1 = 43): per split
    the channels are trained and the ranking examples built on its fit part once, and every grid point trains a
    ranker on those examples. Returns (params, NDCG per split), best mean first. The test split is not touched."""
    scored: dict[int, list[float]] = {n: [] for n in range(len(grid))}
    for split_seed in split_seeds:
        fit, valid = train.split(test_ratio, seed=split_seed)
        models = {name: train_recall(name, fit, {}, seed=seed) for name in channels}
        options = {"candidates_per_channel": candidates_per_channel}
        examples = RankingExamples.build(fit, models, options, seed=seed)
        candidates = pipeline_candidates(models, fit, valid, candidates_per_channel)
        for n, params in enumerate(tqdm(grid, desc=f"tune {kind} (split {split_seed})", leave=False)):
            ranker = train_model(kind, fit, {**options, **params}, seed=seed, recall=models, examples=examples)
            assert isinstance(ranker, LearnedRanker)
            metrics = evaluate_pipeline(models, ranker, fit, valid, k, candidates_per_channel, 0.0, candidates)
            scored[n].append(metrics[f"ndcg@{k}"])
    results = [(dict(grid[n]), values) for n, values in scored.items()]
    return sorted(results, key=lambda r: -sum(r[1]) / max(len(r[1]), 1))
