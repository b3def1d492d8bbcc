"""GET /popular/{tenant_id}: the tenant's popular items (hot, else the popular model, else the workflow's list)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from apps.recall.deps import RecallerDep
from apps.recall.schemas import PopularResponse, ScoredItem
from lemo.tenancy import TenantId

router = APIRouter(prefix="/popular", tags=["recall"])


@router.get("/{tenant_id}")
async def popular(tenant_id: TenantId, recaller: RecallerDep, k: int = Query(50, ge=1, le=1000)) -> PopularResponse:
    found = await recaller.popular(tenant_id, k)
    items = [ScoredItem(item_id=i, score=s) for i, s in found.items]
    return PopularResponse(tenant_id=tenant_id, items=items, source=found.source, version=found.version)
