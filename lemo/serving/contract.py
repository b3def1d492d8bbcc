"""The contract between the read-side stages: recall -> ranking -> rerank, as the gateway (online) and the
recommend workflow's activities (precomputed feeds) call them through their sidecars.

Candidates travel as columns (`Candidates`: item ids, one score array, and per-channel scores only when asked
for), not as one object per candidate: a list of 500 is encoded and decoded at every hop, and one pydantic object
with a dict per candidate cost several times more CPU than the columns (docs/benchmarks.md, "Read path").

Every stage answers with what it did and why: which model version served, which channel failed or fell back,
so `debug=true` can explain a list and `degraded` can say what was lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, model_validator

from lemo.events import Identifier
from lemo.rerank.config import FilterSpec, RuleConfig
from lemo.scenarios import ChannelConfig, ChannelName

MAX_CANDIDATES = 5000


class Candidates(BaseModel):
    """Candidates as columns: `item_ids[i]` has score `scores[i]`. `channels`, when present, holds each recall
    channel's own raw score for every candidate (None where the channel did not find it): recall fills it only
    when asked (debug explanations, a ranker weighing channels); otherwise it stays out of every hop."""

    item_ids: list[str] = Field(default_factory=list, max_length=MAX_CANDIDATES)
    scores: list[float] = Field(default_factory=list, max_length=MAX_CANDIDATES)
    channels: dict[str, list[float | None]] | None = None

    @model_validator(mode="after")
    def _aligned(self) -> Candidates:
        n = len(self.item_ids)
        if len(self.scores) != n:
            raise ValueError(f"{len(self.scores)} scores for {n} item ids")
        for name, column in (self.channels or {}).items():
            if len(column) != n:
                raise ValueError(f"channel {name} has {len(column)} scores for {n} item ids")
        return self

    def __len__(self) -> int:
        return len(self.item_ids)

    def sources(self, index: int) -> dict[str, float]:
        """Channel -> raw score of the candidate at `index` (empty without channel columns)."""
        return {name: score for name, column in (self.channels or {}).items() if (score := column[index]) is not None}

    def take(self, indices: Sequence[int], scores: Sequence[float] | None = None) -> Candidates:
        """The candidates at `indices`, in that order, with new `scores` (aligned with `indices`) when given."""
        return Candidates.model_construct(
            item_ids=[self.item_ids[i] for i in indices],
            scores=list(scores) if scores is not None else [self.scores[i] for i in indices],
            channels=None
            if self.channels is None
            else {name: [column[i] for i in indices] for name, column in self.channels.items()},
        )

    def head(self, n: int) -> Candidates:
        return self.take(range(min(n, len(self.item_ids))))

    def without_channels(self) -> Candidates:
        return Candidates.model_construct(item_ids=self.item_ids, scores=self.scores, channels=None)

    def served(self, with_sources: bool = True) -> list[ServedItem]:
        return [
            ServedItem(item_id=item_id, score=score, sources=self.sources(i) if with_sources else {})
            for i, (item_id, score) in enumerate(zip(self.item_ids, self.scores, strict=True))
        ]


class ServedItem(BaseModel):
    """One item of a served list (at most 200: the list, not the candidates, travels as objects)."""

    item_id: str
    score: float
    # channel -> that channel's own score for the item (recall), for debug.
    sources: dict[str, float] = Field(default_factory=dict)


class UserContext(BaseModel):
    """What the gateway knows about the user before recall: from the realtime profile (actor)."""

    user_id: Identifier
    recent_items: list[str] = Field(default_factory=list, max_length=200)  # newest first
    # Decayed long-term interests, "c:<category>" / "t:<tag>" -> weight (the tag channel reads these).
    interests: dict[str, float] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)


class RecallRequest(BaseModel):
    user: UserContext
    channels: list[ChannelConfig] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list, max_length=MAX_CANDIDATES)
    filters: FilterSpec = Field(default_factory=FilterSpec)
    limit: int = Field(default=500, ge=1, le=MAX_CANDIDATES)
    # Answer each channel's own scores too (Candidates.channels): for debug explanations.
    channel_scores: bool = False


class ChannelReport(BaseModel):
    name: ChannelName
    ok: bool
    count: int = 0
    ms: float = 0.0
    error: str | None = None
    # The model version the channel served from (None for channels without a model, or when it fell back).
    version: int | None = None


class RecallResponse(BaseModel):
    candidates: Candidates
    channels: list[ChannelReport]
    # Items the user already consumed (stored history + realtime recent): what rerank's exclude_seen drops.
    seen: list[str] = Field(default_factory=list)


class RankRequest(BaseModel):
    user: UserContext
    ranker: str
    candidates: Candidates
    context: dict[str, Any] = Field(default_factory=dict)


class RankResponse(BaseModel):
    scores: list[float]  # aligned with the request's candidates
    ranker: str  # the ranker that actually scored (a fallback says so in `fallback`)
    version: int | None = None
    fallback: str | None = None
    # The training run's ranker guard chose a recall channel's order to serve in this ranker's place (it did not
    # beat that channel on validation): a planned decision, explained in `debug`, not a degradation.
    serves: str | None = None
    ms: float = 0.0


class RerankRequest(BaseModel):
    user_id: Identifier
    count: int = Field(ge=1, le=200)
    rules: list[RuleConfig] = Field(default_factory=list, max_length=32)
    candidates: Candidates
    seen: list[str] = Field(default_factory=list)
    now: float | None = None


class RuleEffectOut(BaseModel):
    rule: str
    moved: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    pinned: list[str] = Field(default_factory=list)


class RerankResponse(BaseModel):
    # The chosen items in order (with channel columns when the request carried them).
    items: Candidates
    effects: list[RuleEffectOut] = Field(default_factory=list)
    ms: float = 0.0


def feed_state_key(tenant_id: str, user_id: str, scenario_id: str) -> str:
    """Where a user's precomputed feed for a scenario is kept in the state store (written by the feeds app)."""
    return f"feed:{tenant_id}:{scenario_id}:{user_id}"
