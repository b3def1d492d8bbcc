"""Wire schemas of the recall app's own routes (the stage contract, RecallRequest/RecallResponse, is
lemo/serving/contract.py)."""

from __future__ import annotations

from pydantic import BaseModel


class ScoredItem(BaseModel):
    item_id: str
    score: float


class SimilarResponse(BaseModel):
    tenant_id: str
    item_id: str
    items: list[ScoredItem]
    # The model kind that answered (item_cf, two_tower or content) and its version; None when none could.
    source: str | None = None
    version: int | None = None


class PopularResponse(BaseModel):
    tenant_id: str
    items: list[ScoredItem]
    # hot (realtime counters), popular (the trained model, with its version) or popular_state (the workflow's list).
    source: str | None = None
    version: int | None = None
