"""Training a recall channel by kind: what the registry does for recall kinds, without the rankers, so the
rankers' own code (which refits channels for its examples, lemo/models/ranking_examples.py) can train one without
importing the registry that imports it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from lemo.models.base import RecallModel
from lemo.models.data import TrainingData
from lemo.models.factors import Als
from lemo.models.linear import Ease, Popular
from lemo.models.modules import default_device
from lemo.models.neighbors import ItemCF, UserCF
from lemo.models.text import ContentRecall
from lemo.models.two_tower import TwoTower

RECALL_KINDS: tuple[str, ...] = ("item_cf", "user_cf", "als", "two_tower", "ease", "popular", "content")

RECALL_CLASSES: dict[str, Any] = {
    "item_cf": ItemCF,
    "user_cf": UserCF,
    "als": Als,
    "two_tower": TwoTower,
    "ease": Ease,
    "popular": Popular,
    "content": ContentRecall,
}


def train_threads() -> int:
    """Threads per trainer. One by default: these models are small, and on a 2-core machine shared with the
    mesh, OpenMP thread pools that spin on busy cores made training up to 16x slower than a single thread."""
    return max(1, min(os.cpu_count() or 1, int(os.environ.get("LEMO_TRAIN_THREADS", "1"))))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Sets torch's intra-op threads for one training run and restores the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_recall(
    kind: str,
    data: TrainingData,
    params: dict[str, Any] | None = None,
    *,
    seed: int = 42,
    device: str | None = None,
    text_cache: Path | None = None,
) -> RecallModel:
    """Trains one recall model of `kind` on `data` with `params` over the kind's defaults (see each module).
    `text_cache`: where `content` keeps its text vectors between processes (none: for this process only)."""
    if kind not in RECALL_KINDS:
        raise ValueError(f"{kind!r} is not a recall kind; expected one of {RECALL_KINDS}")
    params = dict(params or {})
    model: RecallModel
    with torch_threads(train_threads()):
        if kind == "als":
            model = Als.train(data, params, seed=seed, threads=train_threads())
        elif kind == "two_tower":
            model = TwoTower.train(data, params, seed=seed, device=default_device(device))
        elif kind == "content":
            model = ContentRecall.train(data, params, cache_dir=text_cache)
        else:
            model = RECALL_CLASSES[kind].train(data, params)
    return model
