"""/v1/admin: tenants and their API keys, and the events dead letter (admin key only). A new key is shown once, in
the response."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from apps.gateway.auth import Admin
from apps.gateway.downstream import Downstream
from apps.shared.errors import ApiError
from lemo.stores.mongo import TenantAlreadyExists, TenantRepository
from lemo.tenancy import Scope, Tenant, TenantId, issue_key

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Admin])


class NewTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: TenantId
    name: str = Field(default="", max_length=200)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[Scope] = Field(default_factory=lambda: [Scope.READ, Scope.WRITE], min_length=1)


def _repo(request: Request) -> TenantRepository:
    return request.app.state.tenants  # type: ignore[no-any-return]


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
async def create_tenant(body: NewTenant, request: Request) -> dict[str, Any]:
    """Creates the tenant and its first read+write key."""
    try:
        await _repo(request).create(Tenant(tenant_id=body.tenant_id, name=body.name))
    except TenantAlreadyExists as exc:
        raise ApiError(status.HTTP_409_CONFLICT, "tenant_exists", f"tenant {body.tenant_id} exists") from exc
    issued = issue_key(body.tenant_id, [Scope.READ, Scope.WRITE])
    await _repo(request).add_key(issued.record)
    return {
        "tenant_id": body.tenant_id,
        "name": body.name,
        "api_key": issued.key,
        "key_id": issued.record.key_id,
    }


@router.get("/tenants")
async def list_tenants(request: Request, limit: int = Query(1000, ge=1, le=10_000)) -> dict[str, Any]:
    """Every tenant (id, name, created_at) in id order: the admin's view in the operator console."""
    return {"tenants": [t.model_dump() for t in await _repo(request).all(limit)]}


@router.get("/tenants/{tenant_id}")
async def get_tenant(tenant_id: TenantId, request: Request) -> dict[str, Any]:
    tenant = await _repo(request).get(tenant_id)
    if tenant is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "tenant_not_found", f"no tenant {tenant_id}")
    keys = [
        {"key_id": k.key_id, "scopes": k.scopes, "revoked": k.revoked, "created_at": k.created_at}
        for k in await _repo(request).keys(tenant_id)
    ]
    return {**tenant.model_dump(), "keys": keys}


@router.post("/tenants/{tenant_id}/keys", status_code=status.HTTP_201_CREATED)
async def create_key(tenant_id: TenantId, body: NewKey, request: Request) -> dict[str, Any]:
    if await _repo(request).get(tenant_id) is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "tenant_not_found", f"no tenant {tenant_id}")
    issued = issue_key(tenant_id, sorted(set(body.scopes)))
    await _repo(request).add_key(issued.record)
    return {
        "tenant_id": tenant_id,
        "api_key": issued.key,
        "key_id": issued.record.key_id,
        "scopes": issued.record.scopes,
    }


@router.delete("/tenants/{tenant_id}/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(tenant_id: TenantId, key_id: str, request: Request) -> None:
    if not await _repo(request).revoke_key(tenant_id, key_id):
        raise ApiError(status.HTTP_404_NOT_FOUND, "key_not_found", f"no key {key_id} for tenant {tenant_id}")


def _profiles(request: Request) -> tuple[Downstream, str]:
    return request.app.state.downstream, request.app.state.settings.profiles_app


@router.get("/deadletters")
async def list_dead_letters(
    request: Request, tenant_id: TenantId | None = None, limit: int = Query(20, ge=0, le=1000)
) -> Response:
    """Events the pipeline gave up on (malformed, or failing past every redelivery), oldest first, with the count."""
    down, app_id = _profiles(request)
    return await down.relay(app_id, "GET", "deadletters", params={"tenant_id": tenant_id, "limit": limit})


@router.post("/deadletters/replay")
async def replay_dead_letters(
    request: Request, tenant_id: TenantId | None = None, limit: int = Query(1000, ge=1, le=1000)
) -> Response:
    """Publishes up to `limit` dead letters to the events topic again (idempotent: an event never counts twice)."""
    down, app_id = _profiles(request)
    return await down.relay(app_id, "POST", "deadletters/replay", params={"tenant_id": tenant_id, "limit": limit})
