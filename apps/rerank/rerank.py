"""/rerank/{tenant_id}: the rerank stage (lemo.serving.contract's RerankRequest -> RerankResponse), called by the
gateway and the recommend workflow through the sidecar."""

from __future__ import annotations

from fastapi import APIRouter, Response

from apps.rerank.deps import Stage
from apps.rerank.schemas import RerankRequest, RerankResponse
from lemo.tenancy import TenantId

router = APIRouter(prefix="/rerank", tags=["rerank"])


@router.post("/{tenant_id}", response_model=RerankResponse)
async def rerank(tenant_id: TenantId, body: RerankRequest, stage: Stage) -> Response:
    """The answer is encoded once, by pydantic-core, not validated again on the way out."""
    result = await stage.rerank(tenant_id, body)
    return Response(result.model_dump_json(), media_type="application/json")
