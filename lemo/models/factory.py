"""One entry point per verb: `train_model(kind, data)` and `load_model(kind, directory)` for every model kind."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lemo.models.base import Model, RecallModel, read_meta
from lemo.models.data import TrainingData
from lemo.models.gbdt_ranker import GradientBoostedRanker
from lemo.models.modules import default_device
from lemo.models.rankers import RANKER_CLASSES, RankingExamples
from lemo.models.recall_kinds import RECALL_CLASSES, RECALL_KINDS, torch_threads, train_recall, train_threads

__all__ = [
    "FUSED_CHANNELS",
    "MODEL_KINDS",
    "RANKER_KINDS",
    "RECALL_KINDS",
    "SMALL_TENANT_CHANNELS",
    "SMALL_TENANT_INTERACTIONS",
    "fused_channels",
    "load_model",
    "train_model",
    "train_recall",
]

RANKER_KINDS: tuple[str, ...] = ("deepfm", "wide_deep", "fusion", "gbdt")
MODEL_KINDS: tuple[str, ...] = RECALL_KINDS + RANKER_KINDS
# The recall channels whose scores a ranker should fuse (pass them as `recall=`), chosen on the validation split
# (docs/evaluation.md): adding popular and content lowered the fused pipeline's validation NDCG and doubled ranker
# training time. They remain channels of their own (cold start, ANN, fallback); two_tower joins for small tenants.
FUSED_CHANNELS: tuple[str, ...] = ("ease", "item_cf", "user_cf", "als")
# Up to this many interactions the fused set also takes two_tower: the gbdt pipeline's validation NDCG@10 on
# MovieLens-100k rose 0.2693 -> 0.2716 with it (docs/evaluation.md, "Tuning"), and retraining the towers on the
# rankers' inner split costs seconds there, but about 280 s of the 1,000,000-event run (docs/benchmarks.md).
SMALL_TENANT_INTERACTIONS = 200_000
SMALL_TENANT_CHANNELS: tuple[str, ...] = ("two_tower",)


def fused_channels(interactions: int) -> tuple[str, ...]:
    """The channels a ranker fuses for a tenant with this many interactions (FUSED_CHANNELS, plus
    SMALL_TENANT_CHANNELS up to SMALL_TENANT_INTERACTIONS)."""
    return FUSED_CHANNELS + SMALL_TENANT_CHANNELS if interactions <= SMALL_TENANT_INTERACTIONS else FUSED_CHANNELS


# The boosted-trees ranker lives in its own module (it subclasses LearnedRanker, so rankers.py cannot import it).
_RANKERS: dict[str, Any] = {**RANKER_CLASSES, GradientBoostedRanker.kind: GradientBoostedRanker}
_LOADERS: dict[str, Any] = {**RECALL_CLASSES, **_RANKERS}


def train_model(
    kind: str,
    data: TrainingData,
    params: dict[str, Any] | None = None,
    *,
    seed: int = 42,
    device: str | None = None,
    recall: Mapping[str, RecallModel] | None = None,
    examples: RankingExamples | None = None,
    text_cache: Path | None = None,
) -> Model:
    """Trains one model of `kind` on `data` with `params` over the kind's defaults (see each module).

    Rankers only: `recall` maps channel names to trained recall models whose scores and ranks become ranker
    features (learned fusion); the ranker keeps them and computes those features itself when scoring. Without
    it a ranker learns from ids and metadata alone, with sampled negatives. `examples` reuses labelled
    candidates from `RankingExamples.build` so two rankers over the same channels share that work.
    `text_cache`: where `content` keeps its text vectors between processes (`lemo.models.text.embed_texts`)."""
    params = dict(params or {})
    device = default_device(device)
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
    if kind in RECALL_KINDS:
        return train_recall(kind, data, params, seed=seed, device=device, text_cache=text_cache)
    model: Model
    with torch_threads(train_threads()):
        model = _RANKERS[kind].train(data, params, seed=seed, device=device, recall=recall, examples=examples)
    return model


def load_model(kind: str, directory: Path, *, recall: Mapping[str, RecallModel] | None = None) -> Model:
    """A model saved by `Model.save`. Rankers trained with recall features need the same channels in `recall`
    (missing channels score as "not retrieved")."""
    stored = read_meta(directory)["kind"]
    if stored != kind:
        raise ValueError(f"{directory} holds a {stored!r} model, not {kind!r}")
    if kind in RANKER_KINDS:
        ranker: Model = _RANKERS[kind].load(directory, recall=recall)
        return ranker
    model: Model = _LOADERS[kind].load(directory)
    return model
