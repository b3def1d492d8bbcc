"""API keys to principals: who a tenant key belongs to and what it may do, remembered for a short while (the HTTP
API's auth dependencies, the rate limit and the gRPC API all resolve keys here)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from lemo.stores.ports import KeyLookup
from lemo.tenancy import ApiKey, Scope, secret_matches, split_key


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    scopes: frozenset[Scope]


class KeyResolver:
    """Resolves API keys to principals, remembering each key record for a short while."""

    def __init__(self, tenants: KeyLookup, ttl_s: float) -> None:
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
