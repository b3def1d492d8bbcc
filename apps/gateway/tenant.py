"""/v1/tenant: who the caller is and how big its tenant is (the operator console's first call after logging in)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, status

from apps.gateway.auth import Principal, Reader
from apps.gateway.deps import AdminOps, DownstreamDep, SettingsDep
from apps.gateway.downstream import Downstream
from apps.gateway.openapi import TENANT_ERRORS
from apps.shared.errors import ApiError

router = APIRouter(prefix="/v1/tenant", tags=["tenant"], responses=TENANT_ERRORS)


async def _total(down: Downstream, app_id: str, path: str) -> int:
    resp = await down.call(app_id, "GET", path, params={"limit": 1, "total": "true"})
    if resp.status_code != 200:
        raise ApiError(status.HTTP_503_SERVICE_UNAVAILABLE, "upstream_unavailable", f"the {app_id} service failed")
    return int(resp.json()["total"])


@router.get("")
async def tenant_summary(
    down: DownstreamDep, settings: SettingsDep, admin: AdminOps, who: Principal = Reader
) -> dict[str, Any]:
    """The tenant's id and name, the key's scopes, and how many items and users it holds."""
    name, items, users = await asyncio.gather(
        admin.name(who.tenant_id),
        _total(down, settings.catalog_app, f"items/{who.tenant_id}"),
        _total(down, settings.profiles_app, f"users/{who.tenant_id}"),
    )
    return {
        "tenant_id": who.tenant_id,
        "name": name,
        "scopes": sorted(who.scopes),
        "items": items,
        "users": users,
    }
