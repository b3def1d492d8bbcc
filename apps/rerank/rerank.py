"""/rerank/{tenant_id}: the rerank stage (lemo.serving.contract's RerankRequest -> RerankResponse), called by the
gateway and the recommend workflow through the sidecar."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from apps.rerank.stage import RerankStage
from lemo.serving.contract import RerankRequest, RerankResponse
from lemo.tenancy import TenantId

router = APIRouter(prefix="/rerank", tags=["rerank"])


@router.post("/{tenant_id}", response_model=RerankResponse)
async def rerank(tenant_id: TenantId, body: RerankRequest, request: Request) -> Response:
    """The answer is encoded once, by pydantic-core, not validated again on the way out."""
    stage: RerankStage = request.app.state.stage
    result = await stage.rerank(tenant_id, body)
    return Response(result.model_dump_json(), media_type="application/json")
