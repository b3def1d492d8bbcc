"""Tenant administration (the admin API's tenants and keys): the operations its routes delegate to. A new key's
secret is answered once, here, and stored only as a hash (lemo/tenancy.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import status

from apps.shared.errors import ApiError
from lemo.stores.ports import TenantAlreadyExists, TenantDirectory
from lemo.tenancy import Scope, Tenant, issue_key


def _no_tenant(tenant_id: str) -> ApiError:
    return ApiError(status.HTTP_404_NOT_FOUND, "tenant_not_found", f"no tenant {tenant_id}")


class TenantAdmin:
    def __init__(self, tenants: TenantDirectory) -> None:
        self._tenants = tenants

    async def create_tenant(self, tenant_id: str, name: str) -> dict[str, Any]:
        """Creates the tenant and its first read+write key; 409 when it exists."""
        try:
            await self._tenants.create(Tenant(tenant_id=tenant_id, name=name))
        except TenantAlreadyExists as exc:
            raise ApiError(status.HTTP_409_CONFLICT, "tenant_exists", f"tenant {tenant_id} exists") from exc
        issued = issue_key(tenant_id, [Scope.READ, Scope.WRITE])
        await self._tenants.add_key(issued.record)
        return {"tenant_id": tenant_id, "name": name, "api_key": issued.key, "key_id": issued.record.key_id}

    async def name(self, tenant_id: str) -> str:
        """The tenant's display name ("" when it has none, or is gone)."""
        tenant = await self._tenants.get(tenant_id)
        return tenant.name if tenant is not None else ""

    async def list_tenants(self, limit: int) -> list[dict[str, Any]]:
        return [t.model_dump() for t in await self._tenants.all(limit)]

    async def get_tenant(self, tenant_id: str) -> dict[str, Any]:
        """The tenant with its keys (ids, scopes, whether revoked; never a secret)."""
        tenant = await self._tenants.get(tenant_id)
        if tenant is None:
            raise _no_tenant(tenant_id)
        keys = [
            {"key_id": k.key_id, "scopes": k.scopes, "revoked": k.revoked, "created_at": k.created_at}
            for k in await self._tenants.keys(tenant_id)
        ]
        return {**tenant.model_dump(), "keys": keys}

    async def create_key(self, tenant_id: str, scopes: Sequence[Scope]) -> dict[str, Any]:
        if await self._tenants.get(tenant_id) is None:
            raise _no_tenant(tenant_id)
        issued = issue_key(tenant_id, sorted(set(scopes)))
        await self._tenants.add_key(issued.record)
        return {
            "tenant_id": tenant_id,
            "api_key": issued.key,
            "key_id": issued.record.key_id,
            "scopes": issued.record.scopes,
        }

    async def revoke_key(self, tenant_id: str, key_id: str) -> None:
        if not await self._tenants.revoke_key(tenant_id, key_id):
            raise ApiError(status.HTTP_404_NOT_FOUND, "key_not_found", f"no key {key_id} for tenant {tenant_id}")
