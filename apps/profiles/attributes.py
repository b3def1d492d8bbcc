"""Users' stored attributes for the read path, kept in memory for a short while.

Every online recommendation asks this app for the user's context: the realtime profile (the actor) and the
attributes stored in MongoDB. The attributes change rarely (a PUT or PATCH of the user), so reading the store on
every request cost a database round trip per list for nothing. Writes through this app forget the user's entry at
once; another replica's write shows here within `ttl_s`.
"""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache

from lemo.stores.ports import UserLookup


class AttributeCache:
    def __init__(self, users: UserLookup, ttl_s: float, max_users: int = 200_000) -> None:
        self._users = users
        self._cache: TTLCache[tuple[str, str], dict[str, Any]] = TTLCache(maxsize=max_users, ttl=ttl_s)

    async def attributes(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        """The user's attributes ({} for a user the store does not have)."""
        key = (tenant_id, user_id)
        found = self._cache.get(key)
        if found is None:
            user = await self._users.get(tenant_id, user_id)
            found = self._cache[key] = (user or {}).get("attributes", {})
        return found

    def forget(self, tenant_id: str, user_id: str) -> None:
        self._cache.pop((tenant_id, user_id), None)
