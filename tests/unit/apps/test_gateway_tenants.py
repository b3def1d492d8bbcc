"""The gateway's tenant administration and key resolution (apps/gateway/tenant_admin.py, apps/gateway/keys.py) on an
in-memory fake of their ports (lemo.stores.ports TenantDirectory, KeyLookup): keys issued by the one resolve in the
other with their scopes, until revoked; lookups are remembered for the cache's TTL."""

from __future__ import annotations

import pytest

from apps.gateway.keys import KeyResolver
from apps.gateway.tenant_admin import TenantAdmin
from apps.shared.errors import ApiError
from lemo.stores.ports import TenantAlreadyExists
from lemo.tenancy import ApiKey, Scope, Tenant


class InMemoryTenants:
    """TenantDirectory and KeyLookup in a dict; counts the key lookups."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.api_keys: dict[str, ApiKey] = {}
        self.key_reads = 0

    async def create(self, tenant: Tenant) -> None:
        if tenant.tenant_id in self.tenants:
            raise TenantAlreadyExists(tenant.tenant_id)
        self.tenants[tenant.tenant_id] = tenant

    async def get(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    async def all(self, limit: int) -> list[Tenant]:
        return [self.tenants[t] for t in sorted(self.tenants)][:limit]

    async def add_key(self, key: ApiKey) -> None:
        self.api_keys[key.key_id] = key

    async def find_key(self, key_id: str) -> ApiKey | None:
        self.key_reads += 1
        return self.api_keys.get(key_id)

    async def keys(self, tenant_id: str) -> list[ApiKey]:
        return [k for k in self.api_keys.values() if k.tenant_id == tenant_id]

    async def revoke_key(self, tenant_id: str, key_id: str) -> bool:
        key = self.api_keys.get(key_id)
        if key is None or key.tenant_id != tenant_id:
            return False
        self.api_keys[key_id] = key.model_copy(update={"revoked": True})
        return True


async def test_a_new_tenants_key_resolves_to_it_with_read_and_write() -> None:
    store = InMemoryTenants()
    created = await TenantAdmin(store).create_tenant("acme", "Acme")
    principal = await KeyResolver(store, ttl_s=0.0).resolve(created["api_key"])
    assert principal is not None
    assert (principal.tenant_id, principal.scopes) == ("acme", frozenset({Scope.READ, Scope.WRITE}))


async def test_a_tenant_is_created_once() -> None:
    admin = TenantAdmin(InMemoryTenants())
    await admin.create_tenant("acme", "Acme")
    with pytest.raises(ApiError) as conflict:
        await admin.create_tenant("acme", "Acme again")
    assert (conflict.value.status_code, conflict.value.code) == (409, "tenant_exists")
    assert await admin.name("acme") == "Acme"


async def test_a_revoked_or_mistyped_key_resolves_to_nobody() -> None:
    store = InMemoryTenants()
    admin = TenantAdmin(store)
    await admin.create_tenant("acme", "")
    reader = await admin.create_key("acme", [Scope.READ])
    keys = KeyResolver(store, ttl_s=0.0)
    principal = await keys.resolve(reader["api_key"])
    assert principal is not None and principal.scopes == frozenset({Scope.READ})
    assert await keys.resolve(reader["api_key"][:-1] + "x") is None
    await admin.revoke_key("acme", reader["key_id"])
    assert await keys.resolve(reader["api_key"]) is None
    with pytest.raises(ApiError) as other_tenant:
        await admin.revoke_key("globex", reader["key_id"])
    assert other_tenant.value.status_code == 404


async def test_a_key_is_looked_up_once_per_ttl() -> None:
    store = InMemoryTenants()
    created = await TenantAdmin(store).create_tenant("acme", "")
    keys = KeyResolver(store, ttl_s=60.0)
    for _ in range(3):
        assert await keys.resolve(created["api_key"]) is not None
    assert store.key_reads == 1
    assert await keys.resolve("not a key") is None and store.key_reads == 1
