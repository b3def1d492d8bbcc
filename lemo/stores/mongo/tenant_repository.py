"""Tenants and their API keys (stored hashed)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from lemo.stores.mongo.connection import ensure_indexes
from lemo.stores.ports import TenantAlreadyExists
from lemo.tenancy import ApiKey, Tenant


class TenantRepository:
    """Tenants and the hashes of their API keys (the platform's own data, not any tenant's)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._tenants = db["tenants"]
        self._keys = db["api_keys"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._keys, [IndexModel([("tenant_id", ASCENDING)], name="tenant")])

    async def create(self, tenant: Tenant) -> None:
        try:
            await self._tenants.insert_one({"_id": tenant.tenant_id, **tenant.model_dump()})
        except DuplicateKeyError as exc:
            raise TenantAlreadyExists(tenant.tenant_id) from exc

    async def get(self, tenant_id: str) -> Tenant | None:
        doc = await self._tenants.find_one({"_id": tenant_id})
        return Tenant.model_validate(doc) if doc else None

    async def all(self, limit: int) -> list[Tenant]:
        """Up to `limit` tenants in id order (the platform's own list, for the admin key only)."""
        cursor = self._tenants.find({}).sort("_id", ASCENDING).limit(limit)
        return [Tenant.model_validate(doc) async for doc in cursor]

    async def add_key(self, key: ApiKey) -> None:
        await self._keys.insert_one({"_id": key.key_id, **key.model_dump()})

    async def find_key(self, key_id: str) -> ApiKey | None:
        doc = await self._keys.find_one({"_id": key_id})
        return ApiKey.model_validate(doc) if doc else None

    async def keys(self, tenant_id: str) -> list[ApiKey]:
        return [ApiKey.model_validate(d) async for d in self._keys.find({"tenant_id": tenant_id})]

    async def revoke_key(self, tenant_id: str, key_id: str) -> bool:
        result = await self._keys.update_one({"_id": key_id, "tenant_id": tenant_id}, {"$set": {"revoked": True}})
        return result.matched_count == 1
