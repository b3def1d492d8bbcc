"""Beyond-accuracy metrics of served top-k lists: what a list does for the catalog and for the user's
discovery, not only whether it hits the holdout.

- catalog coverage: distinct recommended items / catalog size (in `ranking_metrics` as `coverage`).
- novelty: mean self-information -log2(users(i) / n_users) of the recommended items, with users(i) the train
  users of item i (at least 1, so a cold item counts as seen once); averaged per list, then over lists.
- intra-list diversity: mean over the list's pairs of 1 - Jaccard(categories(i), categories(j)); pairs where
  neither item has a category are skipped, and lists without a scored pair too (None when no list has one).
- popularity bias: `arp`, the average train popularity (users per item) of recommended items per list, and
  `popularity_lift`, arp over the average train popularity of the holdout items users went on to consume
  (1: the lists are as popular as what users chose; above 1: biased towards the head).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np


def novelty(lists: Sequence[Sequence[str]], popularity: Mapping[str, float], n_users: int) -> float:
    per_list = [
        float(np.mean([-math.log2(max(popularity.get(i, 0.0), 1.0) / n_users) for i in items]))
        for items in lists
        if items
    ]
    return float(np.mean(per_list)) if per_list else 0.0


def intra_list_diversity(lists: Sequence[Sequence[str]], categories: Mapping[str, Collection[str]]) -> float | None:
    per_list = []
    for items in lists:
        distances = []
        for a, b in itertools.combinations(items, 2):
            ca, cb = set(categories.get(a, ())), set(categories.get(b, ()))
            if ca or cb:
                distances.append(1.0 - len(ca & cb) / len(ca | cb))
        if distances:
            per_list.append(float(np.mean(distances)))
    return float(np.mean(per_list)) if per_list else None


def popularity_bias(
    lists: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], popularity: Mapping[str, float]
) -> tuple[float, float]:
    """(arp, popularity_lift); see the module docstring."""
    arp = [float(np.mean([popularity.get(i, 0.0) for i in items])) for items in lists if items]
    consumed = [popularity.get(i, 0.0) for truth in relevant for i in truth]
    mean_arp = float(np.mean(arp)) if arp else 0.0
    baseline = float(np.mean(consumed)) if consumed else 0.0
    return mean_arp, (mean_arp / baseline if baseline > 0 else 0.0)


def beyond_accuracy(
    lists: Sequence[Sequence[str]],
    relevant: Sequence[Collection[str]],
    k: int,
    popularity: Mapping[str, float],
    n_users: int,
    categories: Mapping[str, Collection[str]],
) -> dict[str, float]:
    """Novelty, intra-list diversity (omitted without categories) and popularity bias of the top-k lists."""
    top = [list(items[:k]) for items in lists]
    arp, lift = popularity_bias(top, relevant, popularity)
    out = {"novelty": novelty(top, popularity, n_users), "arp": arp, "popularity_lift": lift}
    diversity = intra_list_diversity(top, categories)
    if diversity is not None:
        out["diversity"] = diversity
    return out
