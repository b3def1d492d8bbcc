"""Who is calling: a tenant's API key (`X-API-Key`) or the platform admin key (`X-Admin-Key`)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, Header, Request, status

from apps.shared.errors import ApiError
from lemo.stores.mongo import TenantRepository
from lemo.tenancy import ApiKey, Scope, secret_matches, split_key


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    scopes: frozenset[Scope]


class KeyResolver:
    """Resolves API keys to principals, remembering each key record for a short while."""

    def __init__(self, tenants: TenantRepository, ttl_s: float) -> None:
        self._tenants = tenants
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def resolve(self, key: str) -> Principal | None:
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is None or cached[0] < now:
            record = await self._tenants.find_key(key_id)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (now + self._ttl_s, record)
        else:
            record = cached[1]
        if record is None or record.revoked or not secret_matches(secret, record):
            return None
        return Principal(tenant_id=record.tenant_id, scopes=frozenset(record.scopes))


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the calling tenant: 401 without a valid key, 403 when the key lacks `scope`.

    The admin key reaches a tenant's data only explicitly: `X-Admin-Key` together with `X-Tenant-Id` naming an
    existing tenant acts as that tenant with every scope (the operator console does this). A tenant key that sends
    `X-Tenant-Id` of another tenant is refused, never redirected."""

    async def dependency(
        request: Request,
        x_api_key: str | None = Header(None),
        x_admin_key: str | None = Header(None),
        x_tenant_id: str | None = Header(None),
    ) -> Principal:
        if not x_api_key and x_admin_key:
            return await _admin_as_tenant(request, x_admin_key, x_tenant_id)
        if not x_api_key:
            raise ApiError(status.HTTP_401_UNAUTHORIZED, "missing_api_key", "send the tenant's key in X-API-Key")
        principal = await request.app.state.keys.resolve(x_api_key)
        if principal is None:
            raise ApiError(status.HTTP_401_UNAUTHORIZED, "invalid_api_key", "unknown or revoked API key")
        if x_tenant_id is not None and x_tenant_id != principal.tenant_id:
            raise ApiError(status.HTTP_403_FORBIDDEN, "tenant_mismatch", "this key belongs to another tenant")
        if scope not in principal.scopes:
            raise ApiError(status.HTTP_403_FORBIDDEN, "insufficient_scope", f"this key lacks the {scope} scope")
        return principal  # type: ignore[no-any-return]

    return dependency


async def _admin_as_tenant(request: Request, admin_key: str, tenant_id: str | None) -> Principal:
    await require_admin(request, admin_key)
    if not tenant_id:
        raise ApiError(
            status.HTTP_400_BAD_REQUEST, "missing_tenant", "with the admin key, name the tenant in X-Tenant-Id"
        )
    tenants: TenantRepository = request.app.state.tenants
    if await tenants.get(tenant_id) is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "tenant_not_found", f"no tenant {tenant_id}")
    return Principal(tenant_id=tenant_id, scopes=frozenset(Scope))


async def require_admin(request: Request, x_admin_key: str | None = Header(None)) -> None:
    configured = request.app.state.settings.admin_key
    if configured is None:
        raise ApiError(status.HTTP_403_FORBIDDEN, "admin_disabled", "LEMO_ADMIN_KEY is not set on the gateway")
    if not x_admin_key or not hmac.compare_digest(x_admin_key, configured.get_secret_value()):
        raise ApiError(status.HTTP_401_UNAUTHORIZED, "invalid_admin_key", "send the admin key in X-Admin-Key")


Reader = Depends(require(Scope.READ))
Writer = Depends(require(Scope.WRITE))
Admin = Depends(require_admin)
