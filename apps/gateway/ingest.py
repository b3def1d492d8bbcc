"""/v1/ingest/errors: what the tenant's ingest topics rejected lately, and why (docs/ingest.md)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from apps.gateway.auth import Principal, Reader
from apps.gateway.deps import DownstreamDep, SettingsDep
from apps.gateway.openapi import TENANT_ERRORS
from lemo.ingest import IngestKind

router = APIRouter(prefix="/v1/ingest", tags=["ingest"], responses=TENANT_ERRORS)


@router.get("/errors")
async def errors(
    down: DownstreamDep,
    settings: SettingsDep,
    limit: int = Query(100, ge=1, le=1000),
    kind: IngestKind | None = None,
    who: Principal = Reader,
) -> Response:
    """Recent rejections on the caller's `ingest.<tenant>.events` and `ingest.<tenant>.items` topics, newest first,
    each with its machine-readable reason, plus accepted/rejected counts per kind."""
    return await down.relay(
        settings.events_app,
        "GET",
        f"ingest/{who.tenant_id}/errors",
        params={"limit": limit, "kind": kind.value if kind else None},
    )
