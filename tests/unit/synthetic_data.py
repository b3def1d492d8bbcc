"""A small dataset with planted structure for model tests: users in clusters, each cluster interacting only
with its own block of items, so a model that learns anything ranks the rest of the block first."""

from __future__ import annotations

import numpy as np

from lemo.models import Interaction, ItemMeta, TrainingData, UserMeta

THEMES = ["space rocket galaxy", "cooking recipe kitchen", "football match goal", "piano music concert"]
N_CLUSTERS = len(THEMES)
ITEMS_PER_CLUSTER = 12
USERS_PER_CLUSTER = 30
SEEN_PER_USER = 7


def cluster_of_item(item_id: str) -> int:
    return int(item_id.split("-")[1]) // ITEMS_PER_CLUSTER


def cluster_of_user(user_id: str) -> int:
    return int(user_id.split("-")[1]) // USERS_PER_CLUSTER


def planted(seed: int = 0) -> TrainingData:
    rng = np.random.default_rng(seed)
    events, items, users = [], [], []
    for c in range(N_CLUSTERS):
        for n in range(ITEMS_PER_CLUSTER):
            item = f"i-{c * ITEMS_PER_CLUSTER + n}"
            items.append(ItemMeta(item, f"{THEMES[c]} {n}", categories=[THEMES[c].split()[0]]))
    for u in range(N_CLUSTERS * USERS_PER_CLUSTER):
        c = u // USERS_PER_CLUSTER
        user = f"u-{u}"
        users.append(UserMeta(user, {"group": f"g{c}", "age": 20 + 10 * c + int(rng.integers(0, 5))}))
        # items earlier in the block are more popular, as in real catalogs
        weights = np.linspace(2.0, 1.0, ITEMS_PER_CLUSTER)
        chosen = rng.choice(ITEMS_PER_CLUSTER, SEEN_PER_USER, replace=False, p=weights / weights.sum())
        for t, n in enumerate(chosen):
            events.append(Interaction(user, f"i-{c * ITEMS_PER_CLUSTER + n}", "click", None, 1_000.0 + t))
    return TrainingData.build(events, items, users)
