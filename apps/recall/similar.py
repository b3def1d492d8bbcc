"""GET /similar/{tenant_id}/{item_id}: items like one item (item_cf, else two_tower or content vectors)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from apps.recall.deps import RecallerDep
from apps.recall.schemas import ScoredItem, SimilarResponse
from lemo.events import Identifier
from lemo.tenancy import TenantId

router = APIRouter(prefix="/similar", tags=["recall"])


@router.get("/{tenant_id}/{item_id}")
async def similar(
    tenant_id: TenantId, item_id: Identifier, recaller: RecallerDep, k: int = Query(20, ge=1, le=500)
) -> SimilarResponse:
    found = await recaller.similar(tenant_id, item_id, k)
    items = [ScoredItem(item_id=i, score=s) for i, s in found.items]
    return SimilarResponse(
        tenant_id=tenant_id, item_id=item_id, items=items, source=found.source, version=found.version
    )
