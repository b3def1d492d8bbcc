"""/rerank/{tenant_id}: the rerank stage (lemo.pipeline.RerankRequest -> RerankResponse), called by the gateway and
the recommend workflow through the sidecar."""

from __future__ import annotations

from fastapi import APIRouter, Request

from apps.rerank.stage import RerankStage
from lemo.pipeline import RerankRequest, RerankResponse
from lemo.tenancy import TenantId

router = APIRouter(prefix="/rerank", tags=["rerank"])


@router.post("/{tenant_id}")
async def rerank(tenant_id: TenantId, body: RerankRequest, request: Request) -> RerankResponse:
    stage: RerankStage = request.app.state.stage
    return await stage.rerank(tenant_id, body)
