"""One entry point per verb: `train_model(kind, data)` and `load_model(kind, directory)` for every model kind."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from lemo.models.base import Model, RecallModel, read_meta
from lemo.models.data import TrainingData
from lemo.models.factors import Als
from lemo.models.linear import Ease, Popular
from lemo.models.modules import default_device
from lemo.models.neighbors import ItemCF, UserCF
from lemo.models.rankers import RANKER_CLASSES, RankingExamples
from lemo.models.text import ContentRecall
from lemo.models.two_tower import TwoTower

RECALL_KINDS: tuple[str, ...] = ("item_cf", "user_cf", "als", "two_tower", "ease", "popular", "content")
RANKER_KINDS: tuple[str, ...] = ("deepfm", "wide_deep", "fusion")
MODEL_KINDS: tuple[str, ...] = RECALL_KINDS + RANKER_KINDS
# The recall channels whose scores a ranker should fuse (pass them as `recall=`), chosen on the validation split
# (docs/evaluation.md): adding two_tower, popular and content lowered the fused pipeline's validation NDCG and
# doubled ranker training time. They remain channels of their own (cold start, ANN, fallback).
FUSED_CHANNELS: tuple[str, ...] = ("ease", "item_cf", "user_cf", "als")

_LOADERS: dict[str, Any] = {
    "item_cf": ItemCF,
    "user_cf": UserCF,
    "als": Als,
    "two_tower": TwoTower,
    "ease": Ease,
    "popular": Popular,
    "content": ContentRecall,
    **RANKER_CLASSES,
}


def _threads() -> int:
    """Threads per trainer. One by default: these models are small, and on a 2-core machine shared with the
    mesh, OpenMP thread pools that spin on busy cores made training up to 16x slower than a single thread."""
    return max(1, min(os.cpu_count() or 1, int(os.environ.get("LEMO_TRAIN_THREADS", "1"))))


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Sets torch's intra-op threads for one training run and restores the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_model(
    kind: str,
    data: TrainingData,
    params: dict[str, Any] | None = None,
    *,
    seed: int = 42,
    device: str | None = None,
    recall: Mapping[str, RecallModel] | None = None,
    examples: RankingExamples | None = None,
) -> Model:
    """Trains one model of `kind` on `data` with `params` over the kind's defaults (see each module).

    Rankers only: `recall` maps channel names to trained recall models whose scores and ranks become ranker
    features (learned fusion); the ranker keeps them and computes those features itself when scoring. Without
    it a ranker learns from ids and metadata alone, with sampled negatives. `examples` reuses labelled
    candidates from `RankingExamples.build` so two rankers over the same channels share that work."""
    params = dict(params or {})
    device = default_device(device)
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
    model: Model
    with _torch_threads(_threads()):
        if kind in RANKER_KINDS:
            model = RANKER_CLASSES[kind].train(data, params, seed=seed, device=device, recall=recall, examples=examples)
        elif kind == "als":
            model = Als.train(data, params, seed=seed, threads=_threads())
        elif kind == "two_tower":
            model = TwoTower.train(data, params, seed=seed, device=device)
        else:
            model = _LOADERS[kind].train(data, params)
    return model


def train_recall(kind: str, data: TrainingData, params: dict[str, Any] | None = None, *, seed: int = 42) -> RecallModel:
    """`train_model` for a recall kind, typed as the recall model it returns."""
    if kind not in RECALL_KINDS:
        raise ValueError(f"{kind!r} is not a recall kind; expected one of {RECALL_KINDS}")
    model = train_model(kind, data, params, seed=seed)
    assert isinstance(model, RecallModel)
    return model


def load_model(kind: str, directory: Path, *, recall: Mapping[str, RecallModel] | None = None) -> Model:
    """A model saved by `Model.save`. Rankers trained with recall features need the same channels in `recall`
    (missing channels score as "not retrieved")."""
    stored = read_meta(directory)["kind"]
    if stored != kind:
        raise ValueError(f"{directory} holds a {stored!r} model, not {kind!r}")
    if kind in RANKER_KINDS:
        ranker: Model = RANKER_CLASSES[kind].load(directory, recall=recall)
        return ranker
    model: Model = _LOADERS[kind].load(directory)
    return model
