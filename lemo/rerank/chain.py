"""The rule chain: builds rules from a scenario's configs and runs them in order over a ranked list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel

from lemo.rerank.config import (
    BoostRuleConfig,
    CategoryCapRuleConfig,
    ExcludeSeenRuleConfig,
    FilterRuleConfig,
    FreshnessRuleConfig,
    MMRRuleConfig,
    PinRuleConfig,
    RuleConfig,
)
from lemo.rerank.mmr import MMRRule
from lemo.rerank.rules import BoostRule, CategoryCapRule, ExcludeSeenRule, FilterRule, FreshnessRule, PinRule
from lemo.rerank.types import Candidate, RerankContext, Rule, RuleEffect, place_pins


def build_rule(config: RuleConfig) -> Rule:
    match config:
        case MMRRuleConfig():
            return MMRRule(config)
        case FreshnessRuleConfig():
            return FreshnessRule(config)
        case FilterRuleConfig():
            return FilterRule(config)
        case BoostRuleConfig():
            return BoostRule(config)
        case PinRuleConfig():
            return PinRule(config)
        case CategoryCapRuleConfig():
            return CategoryCapRule(config)
        case ExcludeSeenRuleConfig():
            return ExcludeSeenRule(config)
    raise TypeError(f"unknown rule config {type(config).__name__}")


def build_rules(configs: Iterable[RuleConfig]) -> list[Rule]:
    return [build_rule(c) for c in configs]


def apply_rules(
    candidates: Sequence[Candidate], rules: Sequence[Rule | RuleConfig], context: RerankContext
) -> tuple[list[Candidate], list[RuleEffect]]:
    """Runs `rules` in order (configs are built on the way), then cuts the list to `context.count`.

    Pinned items are put back at their slots after every rule, so a rule written without pins in mind
    cannot move them; only removal takes a pinned item out.
    """
    current = list(candidates)
    effects: list[RuleEffect] = []
    for rule_or_config in rules:
        rule = build_rule(rule_or_config) if isinstance(rule_or_config, BaseModel) else rule_or_config
        pins_before = dict(context.pins)
        result = place_pins(rule.apply(current, context), context.pins)
        effects.append(_effect(rule.name, current, result, pins_before, context))
        current = result
    return current[: context.count], effects


def _effect(
    name: str,
    before: Sequence[Candidate],
    after: Sequence[Candidate],
    pins_before: dict[str, int],
    context: RerankContext,
) -> RuleEffect:
    # An item at place i moved iff a different item held place i before: O(count), no lookups.
    moved = tuple(
        c.item_id for i, c in enumerate(after[: context.count]) if i >= len(before) or before[i].item_id != c.item_id
    )
    pinned = tuple(i for i, slot in context.pins.items() if pins_before.get(i) != slot)
    removed: tuple[str, ...] = ()
    if len(after) < len(before) + len(pinned):  # rules only add items by pinning them
        kept = {c.item_id for c in after}
        removed = tuple(c.item_id for c in before if c.item_id not in kept)
        pinned = tuple(i for i in pinned if i in kept)
    return RuleEffect(rule=name, moved=moved, removed=removed, pinned=pinned)
