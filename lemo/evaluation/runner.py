"""`lemo eval`: the fixed offline protocol, end to end, with a time per step.

Per-user random split (test_ratio 0.25, seed 42 by default) -> every recall channel trained on train and scored
alone -> ranking examples from the channels (see `RankingExamples`) -> each ranker trained, scored by AUC/log
loss, and as the rank stage of the full pipeline (channels merged with dedupe -> rank -> rerank).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from lemo.evaluation.protocol import evaluate_pipeline, evaluate_ranker, evaluate_recall, pipeline_candidates
from lemo.models import (
    RANKER_KINDS,
    RECALL_KINDS,
    Interaction,
    ItemMeta,
    RankingExamples,
    RecallModel,
    TrainingData,
    UserMeta,
    fused_channels,
    interactions_from_events,
    train_model,
)
from lemo.models.rankers import LearnedRanker
from lemo.models.recall_kinds import train_recall
from lemo.models.text import item_text
from lemo.registry import PIPELINE_PREFIX, GuardDecision, ranker_guard

T = TypeVar("T")

PIPELINE_RANKER = "gbdt"  # the pipeline's ranker, chosen on validation (docs/evaluation.md, "Tuning")
SPLITS = ("random", "temporal")

# Small settings for --quick (tests and smoke runs): the same code paths, a fraction of the epochs.
QUICK_PARAMS: dict[str, dict[str, Any]] = {
    "two_tower": {"epochs": 2, "dim": 16},
    "als": {"iterations": 3},
    "deepfm": {"epochs": 2, "candidates_per_channel": 20},
    "wide_deep": {"epochs": 2, "candidates_per_channel": 20},
    "fusion": {"epochs": 2, "candidates_per_channel": 20},
    "gbdt": {"trees": 20, "candidates_per_channel": 20},
}


@dataclass
class EvalReport:
    dataset: str
    k: int
    seed: int
    rows: dict[str, dict[str, float]] = field(default_factory=dict)  # channel or pipeline -> ranking metrics
    rankers: dict[str, dict[str, float]] = field(default_factory=dict)  # ranker -> auc, logloss
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds
    data_stats: dict[str, int] = field(default_factory=dict)
    split: str = "random"
    # The ranker guard on the validation split (never test): ranker -> its decision; `served` names the row that
    # the served pipeline (PIPELINE_RANKER, or its best channel when the guard says no) scores on test.
    guard: dict[str, GuardDecision] = field(default_factory=dict)
    validation: dict[str, float] = field(default_factory=dict)  # channel or "pipeline (ranker)" -> valid NDCG
    served: str = ""
    pipeline_channels: list[str] = field(default_factory=list)  # the channels merged and fused in the pipeline


def movielens_data() -> TrainingData:
    """MovieLens-100k: every rating is one positive interaction, with titles, genres and demographics."""
    from lemo.datasets import movielens

    events = [Interaction(r.user_id, r.item_id, "rate", r.rating, r.timestamp) for r in movielens.ratings()]
    items = [ItemMeta(i["item_id"], i["title"], i["categories"], attributes=i["attributes"]) for i in movielens.items()]
    users = [UserMeta(u["user_id"], u["attributes"]) for u in movielens.users()]
    return TrainingData.build(events, items, users)


def file_data(path: Path) -> TrainingData:
    """Any `lemo load interactions` file; no item or user metadata."""
    from lemo.datasets.interactions import read_interactions

    return TrainingData.build(interactions_from_events(read_interactions(path)))


@contextmanager
def _timed(report: EvalReport, step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    report.timings[step] = report.timings.get(step, 0.0) + time.perf_counter() - started


def _each(items: Sequence[T], desc: str, quiet: bool) -> Iterator[T]:
    yield from tqdm(items, desc=desc, disable=quiet, leave=False)


def run_protocol(
    data: TrainingData,
    *,
    dataset: str,
    k: int = 10,
    seed: int = 42,
    channels: Sequence[str] = RECALL_KINDS,
    rankers: Sequence[str] = RANKER_KINDS,
    pipeline_channels: Sequence[str] | None = None,
    quick: bool = False,
    diversity: float = 0.0,
    quiet: bool = False,
    split: str = "random",
    log: Callable[[str], None] = lambda _: None,
) -> EvalReport:
    """`split`: "random" (each user's 25% at random, seed `seed`) or "temporal" (each user's newest 25%); the
    validation split inside train follows the same rule (seed + 1), so the guard predicts what test will do.
    `pipeline_channels`: the channels the pipeline merges and its rankers fuse (default: those the train workflow
    would fuse for this many interactions, `lemo.models.fused_channels`), among the trained `channels`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    report = EvalReport(dataset, k, seed, split=split)

    def divide(d: TrainingData, s: int) -> tuple[TrainingData, TrainingData]:
        return d.temporal_split(0.25) if split == "temporal" else d.split(0.25, seed=s)

    with _timed(report, "split"):
        train, test = divide(data, seed)
    report.data_stats = {
        "users": data.n_users,
        "items": data.n_items,
        "train pairs": int(train.matrix.nnz),
        "test pairs": int(test.matrix.nnz),
    }
    if "content" in channels and not any(item_text(m) for m in data.items.values()):
        log("content channel skipped: no item has a title, categories or tags")
        channels = [c for c in channels if c != "content"]

    def params(kind: str) -> dict[str, Any]:
        return dict(QUICK_PARAMS.get(kind, {})) if quick else {}

    models: dict[str, RecallModel] = {}
    for kind in _each(list(channels), "recall channels", quiet):
        with _timed(report, f"train {kind}"):
            models[kind] = train_recall(kind, train, params(kind), seed=seed)
        with _timed(report, f"evaluate {kind}"):
            report.rows[kind] = evaluate_recall(models[kind], train, test, k)
        log(f"{kind}: ndcg@{k} {report.rows[kind][f'ndcg@{k}']:.4f}")
    if not rankers:
        return report
    if pipeline_channels is None:
        pipeline_channels = fused_channels(int(data.matrix.nnz))
    fused = {name: m for name, m in models.items() if name in pipeline_channels} or models
    report.pipeline_channels = list(fused)
    with _timed(report, "ranking examples (channels retrained on a validation split)"):
        examples = RankingExamples.build(train, fused, params(rankers[0]), seed=seed)
    per_channel = int(examples.candidates_per_channel)
    with _timed(report, "pipeline recall stage (channels merged)"):
        candidates = pipeline_candidates(fused, train, test, per_channel)
    with _timed(report, "ranker guard on the validation split"):
        _guard(report, divide(train, seed + 1), list(models), list(fused), rankers, params, seed, k)
    for kind in _each(list(rankers), "rankers", quiet):
        with _timed(report, f"train {kind}"):
            ranker = train_model(kind, train, params(kind), seed=seed, recall=fused, examples=examples)
        assert isinstance(ranker, LearnedRanker)
        with _timed(report, f"evaluate {kind}"):
            report.rankers[kind] = evaluate_ranker(ranker, train, test, seed=seed)
        with _timed(report, f"pipeline with {kind}"):
            report.rows[f"pipeline ({kind})"] = evaluate_pipeline(
                fused, ranker, train, test, k, per_channel, diversity, candidates
            )
        log(f"pipeline ({kind}): ndcg@{k} {report.rows[f'pipeline ({kind})'][f'ndcg@{k}']:.4f}")
    chosen = PIPELINE_RANKER if PIPELINE_RANKER in report.guard else rankers[0]
    decision = report.guard[chosen]
    report.served = f"pipeline ({chosen})" if decision.serve_ranker else str(decision.channel)
    report.rows["served"] = dict(report.rows[report.served])
    log(f"served: {report.served} ({decision.reason})")
    return report


def _guard(
    report: EvalReport,
    validation: tuple[TrainingData, TrainingData],
    kinds: Sequence[str],
    fused: Sequence[str],
    rankers: Sequence[str],
    params: Callable[[str], dict[str, Any]],
    seed: int,
    k: int,
) -> None:
    """What the train workflow decides, on a validation split carved from train: channels and rankers trained on
    its fit part, each ranker's pipeline (over the `fused` channels) against the best of all `kinds` alone on its
    validation part."""
    fit, valid = validation
    every = {kind: train_recall(kind, fit, params(kind), seed=seed) for kind in kinds}
    channel_metrics = {kind: evaluate_recall(m, fit, valid, k) for kind, m in every.items()}
    report.validation = {kind: m[f"ndcg@{k}"] for kind, m in channel_metrics.items()}
    channels = {kind: every[kind] for kind in fused}
    examples = RankingExamples.build(fit, channels, params(rankers[0]), seed=seed)
    per_channel = int(examples.candidates_per_channel)
    candidates = pipeline_candidates(channels, fit, valid, per_channel)
    for kind in rankers:
        ranker = train_model(kind, fit, params(kind), seed=seed, recall=channels, examples=examples)
        assert isinstance(ranker, LearnedRanker)
        pipeline = evaluate_pipeline(channels, ranker, fit, valid, k, per_channel, 0.0, candidates)
        report.validation[f"pipeline ({kind})"] = pipeline[f"ndcg@{k}"]
        metrics = {PIPELINE_PREFIX + name: value for name, value in pipeline.items()}
        report.guard[kind] = ranker_guard(metrics, channel_metrics, f"ndcg@{k}")
