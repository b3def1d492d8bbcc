"""POST /recall/{tenant_id}: the recall stage (lemo/pipeline.py's RecallRequest -> RecallResponse)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from apps.recall.service import Recaller
from lemo.pipeline import RecallRequest, RecallResponse
from lemo.tenancy import TenantId

router = APIRouter(prefix="/recall", tags=["recall"])


def recaller(request: Request) -> Recaller:
    return request.app.state.recaller  # type: ignore[no-any-return]


@router.post("/{tenant_id}")
async def recall(tenant_id: TenantId, body: RecallRequest, request: Request) -> RecallResponse:
    """Candidates from every requested channel, merged; a channel that fails reports why and the others fill."""
    return await recaller(request).recall(tenant_id, body)
