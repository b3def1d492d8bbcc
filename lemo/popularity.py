"""Item popularity from interactions: the fallback list served when nothing personal is known yet."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from lemo.events import EventType

# How much each behavior says about interest; impressions alone say nothing, dislikes say the opposite.
TYPE_WEIGHTS: dict[str, float] = {
    EventType.IMPRESSION: 0.0,
    EventType.VIEW: 1.0,
    EventType.CLICK: 1.0,
    EventType.LIKE: 3.0,
    EventType.DISLIKE: -2.0,
    EventType.RATE: 2.0,
    EventType.PURCHASE: 5.0,
    EventType.SHARE: 3.0,
}


@dataclass(frozen=True)
class Interaction:
    item_id: str
    type: str
    timestamp: float


@dataclass(frozen=True)
class PopularItem:
    item_id: str
    score: float


def popular_items(interactions: Iterable[Interaction], now: float, half_life_s: float, limit: int) -> list[PopularItem]:
    """Scores items by type-weighted interactions, each halved in weight every `half_life_s` of age."""
    decay = math.log(2) / half_life_s
    scores: dict[str, float] = {}
    for it in interactions:
        weight = TYPE_WEIGHTS.get(it.type, 0.0)
        if weight == 0.0:
            continue
        age = max(0.0, now - it.timestamp)
        scores[it.item_id] = scores.get(it.item_id, 0.0) + weight * math.exp(-decay * age)
    ranked = sorted(((i, s) for i, s in scores.items() if s > 0), key=lambda pair: (-pair[1], pair[0]))
    return [PopularItem(item_id=i, score=round(s, 6)) for i, s in ranked[:limit]]


def archived_marker_key(tenant_id: str) -> str:
    """The state key holding when the tenant's archive last took new events (the events app writes it with the
    event counts): the popularity cron reruns a tenant only when this moved."""
    return f"evarchived:{tenant_id}"


def popularity_due(
    tenant_ids: Iterable[str],
    computed_at: dict[str, float],
    archived_at: dict[str, float],
    now: float,
    max_age_s: float,
) -> list[str]:
    """The tenants whose popular list needs computing again: those without one, those whose archive took events
    since it was computed, and those whose list is older than `max_age_s` (scores decay with time).

    Ranking reads the tenant's whole archive, which FerretDB answers with a scan of every tenant's events (about
    28 s for 230,000 events, even for a tenant with none), so a run for an unchanged tenant is pure cost."""
    due = []
    for tenant_id in tenant_ids:
        computed = computed_at.get(tenant_id)
        if computed is None or archived_at.get(tenant_id, 0.0) > computed or now - computed > max_age_s:
            due.append(tenant_id)
    return due
