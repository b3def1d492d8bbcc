"""The ranker diagnosis of docs/evaluation.md, reproducible: `python -m lemo.evaluation.diagnose`.

On a sparse synthetic catalog (lemo.datasets.synthetic), every measurement is on a validation split carved from
the train part (never test): the channels alone, then each ranker variant's AUC (holdout positives against
uniformly drawn never-seen items) and its pipeline's NDCG@10 over the channels' candidates.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lemo.datasets.synthetic import SyntheticShape, generate
from lemo.evaluation.protocol import evaluate_pipeline, evaluate_ranker, evaluate_recall, pipeline_candidates
from lemo.models import FUSED_CHANNELS, RankingExamples, train_model, train_recall
from lemo.models.rankers import LearnedRanker

SPARSE = SyntheticShape(n_users=1000, n_items=20_000, mean_history=12, zipf=0.9, n_tastes=30, seed=1)
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("every item keeps an id vector (before)", {"min_item_positives": 0}),
    ("ids only for items positive >= 3 times", {"min_item_positives": 3}),
    ("... + unretrieved positives and 20 random items per user", {"min_item_positives": 3, "outside_candidates": 20}),
)


def diagnose(
    shape: SyntheticShape = SPARSE,
    kinds: Sequence[str] = ("deepfm", "wide_deep", "fusion"),
    variants: Sequence[tuple[str, dict[str, Any]]] = VARIANTS,
    seed: int = 42,
    log: Callable[[str], None] = lambda _: None,
) -> list[dict[str, Any]]:
    """Rows {"model", "variant", "auc", "ndcg@10"}: channels first (variant "-", no AUC), then each ranker."""
    train, _ = generate(shape).split(0.25, seed=seed)
    fit, valid = train.split(0.25, seed=seed + 1)
    channels = {kind: train_recall(kind, fit, seed=seed) for kind in FUSED_CHANNELS}
    rows: list[dict[str, Any]] = []
    for kind, model in channels.items():
        rows.append(
            {"model": kind, "variant": "-", "auc": None, "ndcg@10": evaluate_recall(model, fit, valid)["ndcg@10"]}
        )
        log(str(rows[-1]))
    candidates = pipeline_candidates(channels, fit, valid, 100)
    for name, params in variants:
        examples = RankingExamples.build(fit, channels, params, seed=seed)
        for kind in kinds:
            ranker = train_model(kind, fit, params, seed=seed, recall=channels, examples=examples)
            assert isinstance(ranker, LearnedRanker)
            auc = evaluate_ranker(ranker, fit, valid, seed=seed)["auc"]
            ndcg = evaluate_pipeline(channels, ranker, fit, valid, 10, 100, 0.0, candidates)["ndcg@10"]
            rows.append({"model": kind, "variant": name, "auc": auc, "ndcg@10": ndcg})
            log(str(rows[-1]))
    return rows


def render(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| model | variant | validation AUC | validation pipeline ndcg@10 |", "|---|---|---:|---:|"]
    for r in rows:
        auc = "" if r["auc"] is None else f"{r['auc']:.4f}"
        lines.append(f"| {r['model']} | {r['variant']} | {auc} | {r['ndcg@10']:.4f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kinds", default="deepfm,wide_deep,fusion")
    args = parser.parse_args(argv)
    rows = diagnose(kinds=args.kinds.split(","), log=lambda line: print(line, file=sys.stderr))
    print(render(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
