"""POST /recall/{tenant_id}: the recall stage (lemo.serving.contract's RecallRequest -> RecallResponse)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from apps.recall.deps import RecallerDep
from lemo.serving.contract import RecallRequest, RecallResponse
from lemo.tenancy import TenantId

router = APIRouter(prefix="/recall", tags=["recall"])


@router.post("/{tenant_id}", response_model=RecallResponse)
async def recall(tenant_id: TenantId, body: RecallRequest, recaller: RecallerDep) -> Response:
    """Candidates from every requested channel, merged (as columns); a channel that fails reports why and the
    others fill. The answer is encoded once, by pydantic-core, not validated again on the way out."""
    result = await recaller.recall(tenant_id, body)
    return Response(result.model_dump_json(), media_type="application/json")
