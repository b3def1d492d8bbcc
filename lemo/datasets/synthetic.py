"""Seeded synthetic interaction data with a planted taste structure, in shapes MovieLens-100k does not have.

Each user belongs to one of `n_tastes` tastes and each item to one taste and one category (a taste spans a few
categories). A user picks items by popularity (Zipf over a random item order) boosted `affinity` times inside
their own taste, so a model that learns the structure beats popularity, and one that learns nothing does not.
History lengths are lognormal (long-tailed users); `cold_share` of the catalog gets no interaction at all
(cold items, known only by their metadata). Timestamps increase per user, so a temporal split is meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lemo.models.data import Interaction, ItemMeta, TrainingData, UserMeta


@dataclass(frozen=True)
class SyntheticShape:
    n_users: int = 1000
    n_items: int = 2000
    mean_history: float = 20.0  # mean interactions per user (lognormal, sigma `history_spread`)
    history_spread: float = 0.8
    zipf: float = 1.0  # popularity exponent: higher means a longer, thinner tail
    n_tastes: int = 12
    categories_per_taste: int = 3
    affinity: float = 8.0  # how much more likely an item of the user's own taste is, at equal popularity
    cold_share: float = 0.0  # share of items that never receive an interaction
    implicit: bool = True  # clicks without a value; otherwise ratings 1-5
    seed: int = 0


def generate(shape: SyntheticShape) -> TrainingData:
    """The dataset, deterministic for `shape.seed`."""
    rng = np.random.default_rng(shape.seed)
    item_taste = rng.integers(0, shape.n_tastes, shape.n_items)
    item_category = item_taste * shape.categories_per_taste + rng.integers(0, shape.categories_per_taste, shape.n_items)
    popularity = 1.0 / np.arange(1, shape.n_items + 1, dtype=np.float64) ** shape.zipf
    popularity = popularity[rng.permutation(shape.n_items)]
    cold = rng.random(shape.n_items) < shape.cold_share
    popularity[cold] = 0.0
    user_taste = rng.integers(0, shape.n_tastes, shape.n_users)
    mu = np.log(max(shape.mean_history, 1.0)) - shape.history_spread**2 / 2
    lengths = np.clip(np.rint(rng.lognormal(mu, shape.history_spread, shape.n_users)), 2, shape.n_items // 4)
    by_taste = []
    for taste in range(shape.n_tastes):
        weights = popularity * np.where(item_taste == taste, shape.affinity, 1.0)
        by_taste.append(weights / weights.sum())
    events: list[Interaction] = []
    for u in range(shape.n_users):
        p = by_taste[user_taste[u]]
        n = int(min(lengths[u], np.count_nonzero(p)))
        chosen = rng.choice(shape.n_items, n, replace=False, p=p)
        start = 1_600_000_000.0 + float(rng.integers(0, 86_400 * 30))
        for t, i in enumerate(chosen):
            own = item_taste[i] == user_taste[u]
            value = None if shape.implicit else float(np.clip(rng.normal(4.0 if own else 3.0, 0.8), 1, 5).round())
            events.append(
                Interaction(f"u{u}", f"i{i}", "click" if shape.implicit else "rate", value, start + 3600.0 * t)
            )
    items = [ItemMeta(f"i{i}", f"item {i}", [f"c{item_category[i]}"]) for i in range(shape.n_items)]
    users = [UserMeta(f"u{u}", {"cohort": f"k{u % 7}"}) for u in range(shape.n_users)]
    return TrainingData.build(events, items, users)


@dataclass(frozen=True)
class TenantExport:
    """A synthetic tenant as the training export holds it: events as columns, items and users as records."""

    events: pd.DataFrame  # user_id, item_id, type, value, timestamp
    items: list[dict[str, Any]]
    users: list[dict[str, Any]]


def tenant(n_events: int, n_items: int, n_users: int, seed: int = 0, n_tastes: int = 20) -> TenantExport:
    """A tenant of about `n_events` distinct clicks with the same planted structure as `generate` (tastes,
    Zipf popularity, lognormal history lengths), drawn for all users at once: `generate` draws each user's items
    without replacement over the whole catalog, which costs users x items and takes hours at 100,000 of each.
    Here each user draws with replacement from their taste's distribution and duplicates are dropped, so a
    history holds slightly fewer than its drawn length; a second round tops the total up to `n_events`."""
    rng = np.random.default_rng(seed)
    item_taste = rng.integers(0, n_tastes, n_items)
    item_category = item_taste * 3 + rng.integers(0, 3, n_items)
    popularity = (1.0 / np.arange(1, n_items + 1, dtype=np.float64))[rng.permutation(n_items)]
    user_taste = rng.integers(0, n_tastes, n_users)
    mean = n_events / n_users
    lengths = np.clip(np.rint(rng.lognormal(np.log(mean) - 0.32, 0.8, n_users)), 2, n_items // 4).astype(np.int64)
    cdfs = []
    for taste in range(n_tastes):
        weights = popularity * np.where(item_taste == taste, 8.0, 1.0)
        cdfs.append(np.cumsum(weights) / weights.sum())
    pairs = np.empty(0, dtype=np.int64)
    for _ in range(4):  # each round draws what duplicates took away, until the target is (about) met
        missing = n_events - len(pairs)
        if missing <= n_events * 0.001:
            break
        scale = missing / lengths.sum()
        draws = rng.binomial(lengths, min(1.0, scale * 1.15)) if pairs.size else lengths
        users = np.repeat(np.arange(n_users), draws)
        items = np.empty(len(users), dtype=np.int64)
        for taste in range(n_tastes):
            mine = user_taste[users] == taste
            items[mine] = np.searchsorted(cdfs[taste], rng.random(int(mine.sum())))
        pairs = np.unique(np.concatenate([pairs, users * n_items + np.minimum(items, n_items - 1)]))
    pairs = pairs[rng.permutation(len(pairs))[: min(len(pairs), n_events)]]
    users, items = np.divmod(np.sort(pairs), n_items)
    start = 1_600_000_000.0 + rng.integers(0, 86_400 * 30, n_users).astype(np.float64)
    position = np.arange(len(users)) - np.searchsorted(users, users)  # index within the user's (sorted) items
    order = rng.random(len(users))  # a random order of each user's items in time
    position = position[np.lexsort((order, users))]
    events = pd.DataFrame(
        {
            "user_id": np.char.add("u", users.astype(str)),
            "item_id": np.char.add("i", items.astype(str)),
            "type": "click",
            "value": np.nan,
            "timestamp": start[users] + 3600.0 * position,
        }
    )
    catalog = [
        {"item_id": f"i{i}", "title": f"item {i}", "categories": [f"c{item_category[i]}"]} for i in range(n_items)
    ]
    people = [{"user_id": f"u{u}", "attributes": {"cohort": f"k{u % 7}"}} for u in range(n_users)]
    return TenantExport(events, catalog, people)
