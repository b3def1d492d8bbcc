"""The simple weighted-score ranker: a linear blend of named candidate features.

It is the baseline every learned ranker is compared against, and the ranker served when no model is active.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from lemo.events import Identifier


class Candidate(BaseModel):
    item_id: Identifier
    features: dict[str, float] = Field(default_factory=dict)


class ScoreRequest(BaseModel):
    candidates: list[Candidate] = Field(max_length=5000)
    weights: dict[str, float] = Field(default_factory=dict)


class ScoredItem(BaseModel):
    item_id: str
    score: float


def weighted_score(features: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """sum(weight * feature); a missing feature counts as 0."""
    return sum(w * features.get(name, 0.0) for name, w in weights.items())


def weighted_scores(candidates: Sequence[Candidate], weights: Mapping[str, float]) -> list[ScoredItem]:
    """Scores each candidate as sum(weight * feature); missing features count as 0. Best first, stable."""
    scored = [ScoredItem(item_id=c.item_id, score=weighted_score(c.features, weights)) for c in candidates]
    return sorted(scored, key=lambda s: -s.score)
