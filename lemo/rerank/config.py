"""Rerank rule settings: one pydantic model per rule, joined in the `RuleConfig` union on the `type` field.

These are what a tenant stores in a scenario's rule chain (see `lemo.scenarios`); each rule class receives
only its own model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lemo.events import Identifier

AttributeValue = str | int | float | bool


class _RuleConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilterSpec(_RuleConfigBase):
    """Which items may be shown: all three conditions must hold; empty conditions hold for every item.

    An attribute whose value is a list matches when it contains the wanted value.
    """

    include_categories: list[Identifier] = Field(default_factory=list, max_length=256)
    exclude_categories: list[Identifier] = Field(default_factory=list, max_length=256)
    attribute_equals: dict[str, AttributeValue] = Field(default_factory=dict, max_length=32)

    def is_empty(self) -> bool:
        return not (self.include_categories or self.exclude_categories or self.attribute_equals)


class MMRRuleConfig(_RuleConfigBase):
    """Maximal Marginal Relevance: trade relevance (`lambda_` = 1) against diversity (`lambda_` = 0)."""

    # JSON says "lambda" (a Python keyword, hence the field name); both spellings are accepted.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    type: Literal["mmr"] = "mmr"
    lambda_: float = Field(default=0.7, ge=0.0, le=1.0, alias="lambda")
    by: Literal["category", "embedding"] = "category"
    # How many leading places to diversify; None means the request's count. Items past it keep score order.
    window: int | None = Field(default=None, ge=1, le=1000)


class FreshnessRuleConfig(_RuleConfigBase):
    """score *= 1 + boost * 2^(-age / half_life): a new item gets up to (1 + boost) times its score."""

    type: Literal["freshness"] = "freshness"
    half_life_hours: float = Field(default=48.0, gt=0.0)
    boost: float = Field(default=0.5, ge=0.0, le=100.0)


class FilterRuleConfig(FilterSpec):
    type: Literal["filter"] = "filter"


class BoostRuleConfig(_RuleConfigBase):
    """Multiplies the score of items with any listed category, any listed tag or any listed attribute value.

    A factor below 1 demotes.
    """

    type: Literal["boost"] = "boost"
    factor: float = Field(gt=0.0, le=1000.0)
    categories: list[Identifier] = Field(default_factory=list, max_length=256)
    tags: list[str] = Field(default_factory=list, max_length=256)
    attribute_equals: dict[str, AttributeValue] = Field(default_factory=dict, max_length=32)

    @model_validator(mode="after")
    def _matches_something(self) -> BoostRuleConfig:
        if not (self.categories or self.tags or self.attribute_equals):
            raise ValueError("a boost rule needs at least one of categories, tags or attribute_equals")
        return self


class Pin(_RuleConfigBase):
    item_id: Identifier
    slot: int = Field(ge=0, le=999, description="0-based position in the final list")


class PinRuleConfig(_RuleConfigBase):
    type: Literal["pin"] = "pin"
    pins: list[Pin] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique(self) -> PinRuleConfig:
        items = [p.item_id for p in self.pins]
        slots = [p.slot for p in self.pins]
        if len(set(items)) != len(items):
            raise ValueError(f"an item is pinned twice: {_duplicates(items)}")
        if len(set(slots)) != len(slots):
            raise ValueError(f"two pins share a slot: {_duplicates(slots)}")
        return self


class CategoryCapRuleConfig(_RuleConfigBase):
    """At most `max_per_category` items of any one category among the first `top_k` (None: the request's count).

    Over-cap items are moved below the top k; with `strict` they are dropped instead, even if the list then
    comes out shorter than asked.
    """

    type: Literal["category_cap"] = "category_cap"
    max_per_category: int = Field(ge=1, le=1000)
    top_k: int | None = Field(default=None, ge=1, le=1000)
    strict: bool = False


class ExcludeSeenRuleConfig(_RuleConfigBase):
    """Drops the items the user already consumed or disliked (the request context's `seen`)."""

    type: Literal["exclude_seen"] = "exclude_seen"


RuleConfig = Annotated[
    MMRRuleConfig
    | FreshnessRuleConfig
    | FilterRuleConfig
    | BoostRuleConfig
    | PinRuleConfig
    | CategoryCapRuleConfig
    | ExcludeSeenRuleConfig,
    Field(discriminator="type"),
]


def _duplicates(values: list[str] | list[int]) -> str:
    seen: set[object] = set()
    dups = []
    for v in values:
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    return ", ".join(str(d) for d in dups)
