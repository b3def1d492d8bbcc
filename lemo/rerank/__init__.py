"""Reranking: a configurable rule chain over a ranked candidate list (diversity, freshness, business rules)."""

from lemo.rerank.chain import apply_rules, build_rule, build_rules
from lemo.rerank.config import (
    BoostRuleConfig,
    CategoryCapRuleConfig,
    ExcludeSeenRuleConfig,
    FilterRuleConfig,
    FilterSpec,
    FreshnessRuleConfig,
    MMRRuleConfig,
    Pin,
    PinRuleConfig,
    RuleConfig,
)
from lemo.rerank.mmr import MMRRule
from lemo.rerank.rules import BoostRule, CategoryCapRule, ExcludeSeenRule, FilterRule, FreshnessRule, PinRule
from lemo.rerank.types import Candidate, RerankContext, Rule, RuleEffect

__all__ = [
    "BoostRule",
    "BoostRuleConfig",
    "Candidate",
    "CategoryCapRule",
    "CategoryCapRuleConfig",
    "ExcludeSeenRule",
    "ExcludeSeenRuleConfig",
    "FilterRule",
    "FilterRuleConfig",
    "FilterSpec",
    "FreshnessRule",
    "FreshnessRuleConfig",
    "MMRRule",
    "MMRRuleConfig",
    "Pin",
    "PinRule",
    "PinRuleConfig",
    "RerankContext",
    "Rule",
    "RuleConfig",
    "RuleEffect",
    "apply_rules",
    "build_rule",
    "build_rules",
]
