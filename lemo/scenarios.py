"""Scenarios: per-tenant configuration of one placement (home feed, item page, ...) and its A/B experiments.

A scenario says which recall channels run (quota, weight, deadline), which ranker scores, which rerank rules
apply in order, the filters every result must pass, and how many items to return. An experiment splits users
into variants by a stable hash; a variant overrides part of the scenario and inherits the rest.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lemo.rerank.config import (
    ExcludeSeenRuleConfig,
    FilterRuleConfig,
    FilterSpec,
    FreshnessRuleConfig,
    MMRRuleConfig,
    RuleConfig,
)

ScenarioId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@\-]+$")]

ChannelName = Literal["hot", "latest", "item_cf", "user_cf", "als", "ease", "two_tower", "tag", "content", "popular"]
RankerName = Literal["fusion", "deepfm", "wide_deep", "gbdt", "weighted", "random"]

# Buckets for traffic splits: 10,000 gives traffic a resolution of 0.01 percent.
BUCKETS = 10_000
_TRAFFIC_TOTAL = 100.0


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelConfig(_Config):
    name: ChannelName
    quota: int = Field(default=100, ge=1, le=1000, description="most candidates taken from this channel")
    weight: float = Field(default=1.0, ge=0.0, description="weight of this channel's normalized score in the merge")
    deadline_ms: int = Field(default=50, ge=1, le=1000)
    enabled: bool = True


def _check_channels(channels: list[ChannelConfig]) -> list[ChannelConfig]:
    names = [c.name for c in channels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate channel names: {', '.join(duplicates)}")
    if not any(c.enabled for c in channels):
        raise ValueError("at least one channel must be enabled")
    return channels


class ScenarioOverrides(_Config):
    """The part of a scenario a variant changes; a field left unset (None) inherits the scenario's value.
    A list that is set replaces the scenario's list whole (`rules=[]` means no rules)."""

    channels: list[ChannelConfig] | None = Field(default=None, min_length=1)
    ranker: RankerName | None = None
    rules: list[RuleConfig] | None = Field(default=None, max_length=32)
    default_count: int | None = Field(default=None, ge=1, le=200)

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: list[ChannelConfig] | None) -> list[ChannelConfig] | None:
        return None if channels is None else _check_channels(channels)


class Variant(_Config):
    variant_id: ScenarioId
    traffic: float = Field(ge=0.0, le=100.0, description="percent of users in this variant")
    overrides: ScenarioOverrides = Field(default_factory=ScenarioOverrides)


class Experiment(_Config):
    experiment_id: ScenarioId
    enabled: bool = True
    variants: list[Variant] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _split(self) -> Experiment:
        ids = [v.variant_id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError(f"experiment {self.experiment_id!r}: duplicate variant ids")
        if self.enabled:
            if not self.variants:
                raise ValueError(f"experiment {self.experiment_id!r}: an enabled experiment needs variants")
            total = sum(v.traffic for v in self.variants)
            if abs(total - _TRAFFIC_TOTAL) > 1e-6:
                raise ValueError(f"experiment {self.experiment_id!r}: variant traffic must sum to 100, got {total:g}")
        return self


class Scenario(_Config):
    """Besides each field's own constraints: channel names are unique and at least one channel is enabled,
    experiment ids are unique, and within an experiment variant ids are unique and an enabled experiment's variants'
    traffic sums to 100; a PUT's scenario_id is the one in its path."""

    scenario_id: ScenarioId
    description: str = Field(default="", max_length=1000)
    channels: list[ChannelConfig] = Field(min_length=1)
    ranker: RankerName = "deepfm"
    rules: list[RuleConfig] = Field(default_factory=list, max_length=32, description="applied in order")
    filters: FilterSpec = Field(default_factory=FilterSpec)
    default_count: int = Field(default=10, ge=1, le=200)
    candidate_limit: int = Field(default=500, ge=1, le=5000, description="candidates kept after the merge")
    experiments: list[Experiment] = Field(default_factory=list, max_length=16)

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: list[ChannelConfig]) -> list[ChannelConfig]:
        return _check_channels(channels)

    @field_validator("experiments")
    @classmethod
    def _experiments(cls, experiments: list[Experiment]) -> list[Experiment]:
        ids = [e.experiment_id for e in experiments]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate experiment ids")
        return experiments


class ResolvedScenario(_Config):
    """The scenario one user gets: experiment overrides applied, the experiment and variant named (or None)."""

    scenario_id: str
    channels: list[ChannelConfig]
    ranker: RankerName
    rules: list[RuleConfig]
    filters: FilterSpec
    default_count: int
    candidate_limit: int
    experiment_id: str | None = None
    variant_id: str | None = None

    def channel_configs(self) -> dict[str, ChannelConfig]:
        """The enabled channels by name, as `merge_channels` takes them."""
        return {c.name: c for c in self.channels if c.enabled}

    def rerank_rules(self) -> list[RuleConfig]:
        """The rule chain to run: the scenario's filters first (when any), then its rules in order."""
        if self.filters.is_empty():
            return list(self.rules)
        return [FilterRuleConfig(**self.filters.model_dump()), *self.rules]


def bucket_of(tenant_id: str, experiment_id: str, user_id: str) -> int:
    """A user's bucket in 0..9999 for one experiment: the same in every process and run (unlike `hash()`),
    and independent between experiments."""
    digest = hashlib.sha256(f"{tenant_id}:{experiment_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign_variant(experiment: Experiment, tenant_id: str, user_id: str) -> Variant:
    """The user's variant: buckets are dealt to variants in order, `traffic` percent each.

    For a disabled experiment whose traffic does not add up, users past the total get the first variant.
    """
    if not experiment.variants:
        raise ValueError(f"experiment {experiment.experiment_id!r} has no variants")
    bucket = bucket_of(tenant_id, experiment.experiment_id, user_id)
    upper = 0.0
    for variant in experiment.variants:
        upper += variant.traffic * BUCKETS / _TRAFFIC_TOTAL
        if bucket < upper:
            return variant
    return experiment.variants[0]


def resolve(scenario: Scenario, tenant_id: str, user_id: str, variant_id: str | None = None) -> ResolvedScenario:
    """Applies the first enabled experiment's variant for this user; without one, the scenario as configured.
    `variant_id` forces that variant of the experiment instead of the user's own (an operator's preview);
    KeyError when the experiment has no such variant or there is no enabled experiment."""
    base = {
        "scenario_id": scenario.scenario_id,
        "channels": scenario.channels,
        "ranker": scenario.ranker,
        "rules": scenario.rules,
        "filters": scenario.filters,
        "default_count": scenario.default_count,
        "candidate_limit": scenario.candidate_limit,
    }
    experiment = next((e for e in scenario.experiments if e.enabled), None)
    if experiment is None:
        if variant_id is not None:
            raise KeyError(f"scenario {scenario.scenario_id!r} runs no experiment")
        return ResolvedScenario.model_validate(base)
    if variant_id is None:
        variant = assign_variant(experiment, tenant_id, user_id)
    else:
        forced = next((v for v in experiment.variants if v.variant_id == variant_id), None)
        if forced is None:
            raise KeyError(f"experiment {experiment.experiment_id!r} has no variant {variant_id!r}")
        variant = forced
    overridden = {name: value for name, value in variant.overrides if value is not None}
    return ResolvedScenario.model_validate(
        {**base, **overridden, "experiment_id": experiment.experiment_id, "variant_id": variant.variant_id}
    )


def default_scenario(scenario_id: str = "home") -> Scenario:
    """A home feed that works before any configuration: collaborative, embedding, content and trending
    channels; the fusion ranker (the best on validation, docs/evaluation.md; the ranking app falls back when no
    model is active); unseen, fresh, diverse results."""
    channels = [
        ChannelConfig(name="item_cf", quota=150, weight=1.0),
        ChannelConfig(name="user_cf", quota=150, weight=1.0),
        ChannelConfig(name="als", quota=150, weight=1.0),
        ChannelConfig(name="ease", quota=150, weight=1.0),
        ChannelConfig(name="two_tower", quota=150, weight=1.0, deadline_ms=80),
        ChannelConfig(name="content", quota=100, weight=0.6, deadline_ms=80),
        ChannelConfig(name="tag", quota=100, weight=0.5),
        ChannelConfig(name="hot", quota=100, weight=0.4),
        ChannelConfig(name="latest", quota=50, weight=0.3),
    ]
    return Scenario(
        scenario_id=scenario_id,
        description="Home feed: personalized, fresh and diverse; the default before any configuration.",
        channels=channels,
        ranker="fusion",
        rules=[
            ExcludeSeenRuleConfig(),
            FreshnessRuleConfig(half_life_hours=72.0, boost=0.3),
            MMRRuleConfig(lambda_=0.7, by="category"),
        ],
        default_count=10,
        candidate_limit=500,
    )
