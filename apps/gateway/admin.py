"""/v1/admin: tenants and their API keys, and the events dead letter (admin key only). A new key is shown once, in
the response."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from apps.gateway.auth import Admin
from apps.gateway.deps import AdminOps, DownstreamDep, SettingsDep
from apps.gateway.openapi import ADMIN_ERRORS
from apps.shared.errors import error_responses
from lemo.tenancy import Scope, TenantId

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Admin], responses=ADMIN_ERRORS)


class NewTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: TenantId
    name: str = Field(default="", max_length=200)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[Scope] = Field(default_factory=lambda: [Scope.READ, Scope.WRITE], min_length=1)


@router.post("/tenants", status_code=status.HTTP_201_CREATED, responses=error_responses(409))
async def create_tenant(body: NewTenant, admin: AdminOps) -> dict[str, Any]:
    """Creates the tenant and its first read+write key."""
    return await admin.create_tenant(body.tenant_id, body.name)


@router.get("/tenants")
async def list_tenants(admin: AdminOps, limit: int = Query(1000, ge=1, le=10_000)) -> dict[str, Any]:
    """Every tenant (id, name, created_at) in id order: the admin's view in the operator console."""
    return {"tenants": await admin.list_tenants(limit)}


@router.get("/tenants/{tenant_id}")
async def get_tenant(tenant_id: TenantId, admin: AdminOps) -> dict[str, Any]:
    return await admin.get_tenant(tenant_id)


@router.post("/tenants/{tenant_id}/keys", status_code=status.HTTP_201_CREATED)
async def create_key(tenant_id: TenantId, body: NewKey, admin: AdminOps) -> dict[str, Any]:
    return await admin.create_key(tenant_id, body.scopes)


@router.delete("/tenants/{tenant_id}/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(tenant_id: TenantId, key_id: str, admin: AdminOps) -> None:
    await admin.revoke_key(tenant_id, key_id)


@router.get("/deadletters")
async def list_dead_letters(
    down: DownstreamDep,
    settings: SettingsDep,
    tenant_id: TenantId | None = None,
    limit: int = Query(20, ge=0, le=1000),
) -> Response:
    """Events the pipeline gave up on (malformed, or failing past every redelivery), oldest first, with the count."""
    params = {"tenant_id": tenant_id, "limit": limit}
    return await down.relay(settings.profiles_app, "GET", "deadletters", params=params)


@router.post("/deadletters/replay")
async def replay_dead_letters(
    down: DownstreamDep,
    settings: SettingsDep,
    tenant_id: TenantId | None = None,
    limit: int = Query(1000, ge=1, le=1000),
) -> Response:
    """Publishes up to `limit` dead letters to the events topic again (idempotent: an event never counts twice)."""
    params = {"tenant_id": tenant_id, "limit": limit}
    return await down.relay(settings.profiles_app, "POST", "deadletters/replay", params=params)
