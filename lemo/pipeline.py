"""The contract between the read-side stages: recall -> ranking -> rerank, as the gateway (online) and the
recommend workflow (precomputed feeds) call them through their sidecars.

Every stage answers with what it did and why: which model version served, which channel failed or fell back,
so `debug=true` can explain a list and `degraded` can say what was lost.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lemo.events import Identifier
from lemo.rerank.config import RuleConfig
from lemo.scenarios import ChannelConfig, ChannelName, FilterSpec

MAX_CANDIDATES = 5000


class StageCandidate(BaseModel):
    item_id: str
    score: float
    # channel -> that channel's own score for the item (recall), kept through ranking and rerank for debug.
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


class ChannelReport(BaseModel):
    name: ChannelName
    ok: bool
    count: int = 0
    ms: float = 0.0
    error: str | None = None
    # The model version the channel served from (None for channels without a model, or when it fell back).
    version: int | None = None


class RecallResponse(BaseModel):
    candidates: list[StageCandidate]
    channels: list[ChannelReport]
    # Items the user already consumed (stored history + realtime recent): what rerank's exclude_seen drops.
    seen: list[str] = Field(default_factory=list)


class RankRequest(BaseModel):
    user: UserContext
    ranker: str
    candidates: list[StageCandidate] = Field(max_length=MAX_CANDIDATES)
    context: dict[str, Any] = Field(default_factory=dict)


class RankResponse(BaseModel):
    scores: list[float]  # aligned with the request's candidates
    ranker: str  # the ranker that actually scored (a fallback says so in `fallback`)
    version: int | None = None
    fallback: str | None = None
    ms: float = 0.0


class RerankRequest(BaseModel):
    user_id: Identifier
    count: int = Field(ge=1, le=200)
    rules: list[RuleConfig] = Field(default_factory=list, max_length=32)
    candidates: list[StageCandidate] = Field(max_length=MAX_CANDIDATES)
    seen: list[str] = Field(default_factory=list)
    now: float | None = None


class RuleEffectOut(BaseModel):
    rule: str
    moved: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    pinned: list[str] = Field(default_factory=list)


class RerankResponse(BaseModel):
    items: list[StageCandidate]
    effects: list[RuleEffectOut] = Field(default_factory=list)
    ms: float = 0.0


def feed_state_key(tenant_id: str, user_id: str, scenario_id: str) -> str:
    """Where a user's precomputed feed for a scenario is kept in the state store (written by the feeds app)."""
    return f"feed:{tenant_id}:{scenario_id}:{user_id}"
