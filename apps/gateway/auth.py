"""Who is calling: a tenant's API key (`X-API-Key`) or the platform admin key (`X-Admin-Key`)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Depends, Header, Security, status
from fastapi.security import APIKeyHeader

from apps.gateway.deps import Keys, SettingsDep, Tenants
from apps.gateway.keys import KeyResolver, Principal
from apps.shared.errors import ApiError
from lemo.tenancy import Scope

__all__ = ["Admin", "KeyResolver", "Principal", "Reader", "Writer", "require", "require_admin"]


# Security schemes rather than plain headers, so the OpenAPI document says how a caller authenticates.
TENANT_KEY = APIKeyHeader(name="X-API-Key", scheme_name="TenantKey", auto_error=False, description="a tenant's API key")
ADMIN_KEY = APIKeyHeader(
    name="X-Admin-Key",
    scheme_name="AdminKey",
    auto_error=False,
    description="the platform admin key (LEMO_ADMIN_KEY); on a tenant's routes only together with X-Tenant-Id",
)


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the calling tenant: 401 without a valid key, 403 when the key lacks `scope`.

    The admin key reaches a tenant's data only explicitly: `X-Admin-Key` together with `X-Tenant-Id` naming an
    existing tenant acts as that tenant with every scope (the operator console does this). A tenant key that sends
    `X-Tenant-Id` of another tenant is refused, never redirected."""

    async def dependency(
        keys: Keys,
        tenants: Tenants,
        settings: SettingsDep,
        x_api_key: str | None = Security(TENANT_KEY),
        x_admin_key: str | None = Security(ADMIN_KEY),
        x_tenant_id: str | None = Header(
            None, description="the tenant to act as, with the admin key; with a tenant key, its own tenant or 403"
        ),
    ) -> Principal:
        if not x_api_key and x_admin_key:
            return await _admin_as_tenant(tenants, settings, x_admin_key, x_tenant_id)
        if not x_api_key:
            raise ApiError(status.HTTP_401_UNAUTHORIZED, "missing_api_key", "send the tenant's key in X-API-Key")
        principal = await keys.resolve(x_api_key)
        if principal is None:
            raise ApiError(status.HTTP_401_UNAUTHORIZED, "invalid_api_key", "unknown or revoked API key")
        if x_tenant_id is not None and x_tenant_id != principal.tenant_id:
            raise ApiError(status.HTTP_403_FORBIDDEN, "tenant_mismatch", "this key belongs to another tenant")
        if scope not in principal.scopes:
            raise ApiError(status.HTTP_403_FORBIDDEN, "insufficient_scope", f"this key lacks the {scope} scope")
        return principal

    return dependency


async def _admin_as_tenant(tenants: Tenants, settings: SettingsDep, admin_key: str, tenant_id: str | None) -> Principal:
    await require_admin(settings, admin_key)
    if not tenant_id:
        raise ApiError(
            status.HTTP_400_BAD_REQUEST, "missing_tenant", "with the admin key, name the tenant in X-Tenant-Id"
        )
    if await tenants.get(tenant_id) is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "tenant_not_found", f"no tenant {tenant_id}")
    return Principal(tenant_id=tenant_id, scopes=frozenset(Scope))


async def require_admin(settings: SettingsDep, x_admin_key: str | None = Security(ADMIN_KEY)) -> None:
    configured = settings.admin_key
    if configured is None:
        raise ApiError(status.HTTP_403_FORBIDDEN, "admin_disabled", "LEMO_ADMIN_KEY is not set on the gateway")
    if not x_admin_key or not hmac.compare_digest(x_admin_key, configured.get_secret_value()):
        raise ApiError(status.HTTP_401_UNAUTHORIZED, "invalid_admin_key", "send the admin key in X-Admin-Key")


Reader = Depends(require(Scope.READ))
Writer = Depends(require(Scope.WRITE))
Admin = Depends(require_admin)
