"""The business rules of the chain: eligibility (filter, exclude_seen), scoring (freshness, boost) and
placement (pin, category_cap). Maximal Marginal Relevance lives in `mmr.py`.

Rules that rescore re-sort by the new score (stable, so ties keep their order); rules that reorder keep
scores. Every rule returns a new list and leaves pinned items at their slots (see `PinRule`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lemo.rerank.config import (
    AttributeValue,
    BoostRuleConfig,
    CategoryCapRuleConfig,
    ExcludeSeenRuleConfig,
    FilterSpec,
    FreshnessRuleConfig,
    PinRuleConfig,
)
from lemo.rerank.types import Candidate, RerankContext, place_pins

_HOUR_S = 3600.0


class FilterRule:
    """Keeps items with an included category (when any are listed), no excluded category, and every listed
    attribute value. Applies to pinned items too: a pin places an eligible item, it does not make one eligible.
    """

    name = "filter"

    def __init__(self, config: FilterSpec) -> None:
        self._include = frozenset(config.include_categories)
        self._exclude = frozenset(config.exclude_categories)
        self._attributes = dict(config.attribute_equals)

    def apply(self, candidates: Sequence[Candidate], context: RerankContext) -> list[Candidate]:
        return [c for c in candidates if self._keeps(c)]

    def _keeps(self, c: Candidate) -> bool:
        cats = set(c.categories)
        if self._include and not cats & self._include:
            return False
        if cats & self._exclude:
            return False
        return all(_attribute_matches(c.attributes, k, v) for k, v in self._attributes.items())


class ExcludeSeenRule:
    """Drops what the user already consumed or disliked, pinned or not."""

    name = "exclude_seen"

    def __init__(self, config: ExcludeSeenRuleConfig | None = None) -> None:
        pass

    def apply(self, candidates: Sequence[Candidate], context: RerankContext) -> list[Candidate]:
        if not context.seen:
            return list(candidates)
        return [c for c in candidates if c.item_id not in context.seen]


class FreshnessRule:
    """score *= 1 + boost * 2^(-age / half_life). Items without `published_at` keep their score; items dated
    in the future count as brand new."""

    name = "freshness"

    def __init__(self, config: FreshnessRuleConfig) -> None:
        self._decay_per_s = math.log(2) / (config.half_life_hours * _HOUR_S)
        self._boost = config.boost

    def apply(self, candidates: Sequence[Candidate], context: RerankContext) -> list[Candidate]:
        if not candidates or self._boost == 0.0:
            return list(candidates)
        published = np.array(
            [np.nan if c.published_at is None else c.published_at for c in candidates], dtype=np.float64
        )
        age_s = np.maximum(context.now - published, 0.0)
        factors = 1.0 + self._boost * np.exp(-self._decay_per_s * age_s)
        factors[np.isnan(published)] = 1.0
        return _rescore(candidates, factors, context.pins)


class BoostRule:
    """Multiplies the score of items with any listed category, tag or attribute value by `factor`."""

    name = "boost"

    def __init__(self, config: BoostRuleConfig) -> None:
        self._factor = config.factor
        self._categories = frozenset(config.categories)
        self._tags = frozenset(config.tags)
        self._attributes = dict(config.attribute_equals)

    def apply(self, candidates: Sequence[Candidate], context: RerankContext) -> list[Candidate]:
        if not candidates:
            return []
        matches = np.fromiter((self._matches(c) for c in candidates), dtype=bool, count=len(candidates))
        factors = np.where(matches, self._factor, 1.0)
        return _rescore(candidates, factors, context.pins)

    def _matches(self, c: Candidate) -> bool:
        return (
            not self._categories.isdisjoint(c.categories)
            or not self._tags.isdisjoint(c.tags)
            or any(_attribute_matches(c.attributes, k, v) for k, v in self._attributes.items())
        )


class PinRule:
    """Fixes items at 0-based slots of the final list.

    A pinned item comes from the candidates or, failing that, from the context's `pinned_items` lookup; an item
    found in neither is skipped rather than invented, since later rules could not judge an item they know
    nothing about. Once pinned, an item keeps its slot through every later rule that reorders or rescores
    (mmr, freshness, boost, category_cap); rules that decide eligibility (filter, exclude_seen) still remove it.
    A slot past the end of the list puts the item last. A later pin on an occupied slot replaces the earlier pin.
    """

    name = "pin"

    def __init__(self, config: PinRuleConfig) -> None:
        self._pins = [(p.item_id, p.slot) for p in config.pins]

    def apply(self, candidates: Sequence[Candidate], context: RerankContext) -> list[Candidate]:
        present = {c.item_id for c in candidates}
        out = list(candidates)
        for item_id, slot in self._pins:
            if item_id not in present:
                looked_up = context.pinned_items.get(item_id)
                if looked_up is None:
                    continue
                out.append(looked_up)
                present.add(item_id)
            for other in [i for i, s in context.pins.items() if s == slot and i != item_id]:
                del context.pins[other]
            context.pins[item_id] = slot
        return place_pins(out, context.pins)


class CategoryCapRule:
    """At most N items of any one category among the first k. Walks the list in order and defers an item
    that would break a cap; deferred items follow the top k (or are dropped when `strict`). Without `strict`
    the list never gets shorter: when too few items qualify, deferred ones fill the remaining top places.
    Pinned items are never deferred but do count towards their categories' caps."""

    name = "category_cap"

    def __init__(self, config: CategoryCapRuleConfig) -> None:
        self._cap = config.max_per_category
        self._top_k = config.top_k
        self._strict = config.strict

    def apply(self, candidates: Sequence[Candidate], context: RerankContext) -> list[Candidate]:
        top_k = self._top_k or context.count
        counts: Counter[str] = Counter()
        head: list[Candidate] = []
        deferred: list[Candidate] = []
        scanned = 0
        for c in candidates:
            if len(head) >= top_k:
                break
            scanned += 1
            cats = set(c.categories)
            if c.item_id in context.pins or all(counts[cat] < self._cap for cat in cats):
                head.append(c)
                counts.update(cats)
            else:
                deferred.append(c)
        tail = list(candidates[scanned:])
        out = head + tail if self._strict else head + deferred + tail
        return place_pins(out, context.pins)


def _rescore(candidates: Sequence[Candidate], factors: np.ndarray, pins: Mapping[str, int]) -> list[Candidate]:
    """Applies score multipliers and re-sorts. A negative score is divided instead, so a factor above 1
    always helps an item and one below 1 always hurts it."""
    scores = np.fromiter((c.score for c in candidates), dtype=np.float64, count=len(candidates))
    rescored = np.where(scores >= 0.0, scores * factors, scores / factors)
    order = np.argsort(-rescored, kind="stable")
    changed = factors != 1.0
    out = [candidates[i].with_score(float(rescored[i])) if changed[i] else candidates[i] for i in order.tolist()]
    return place_pins(out, pins)


def _attribute_matches(attributes: Mapping[str, Any], key: str, wanted: AttributeValue) -> bool:
    if key not in attributes:
        return False
    value = attributes[key]
    if isinstance(value, list | tuple | set | frozenset):
        return wanted in value
    return bool(value == wanted)
