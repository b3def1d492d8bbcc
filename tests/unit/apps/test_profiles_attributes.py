"""The profiles app's attribute cache: one store read per user per TTL, forgotten on write."""

from __future__ import annotations

import time
from typing import Any

from apps.profiles.attributes import AttributeCache


class CountingUsers:
    """An in-memory UserLookup (lemo.stores.ports) that counts its reads."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads = 0

    async def get(self, tenant_id: str, user_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.docs.get((tenant_id, user_id))


def _cache(users: CountingUsers, ttl_s: float = 60.0) -> AttributeCache:
    return AttributeCache(users, ttl_s)


async def test_reads_the_store_once_per_user() -> None:
    users = CountingUsers()
    users.docs["t1", "u1"] = {"attributes": {"age": 30}}
    cache = _cache(users)
    assert await cache.attributes("t1", "u1") == {"age": 30}
    assert await cache.attributes("t1", "u1") == {"age": 30}
    assert users.reads == 1
    assert await cache.attributes("t1", "nobody") == {}  # an unknown user: empty, and remembered too
    assert await cache.attributes("t1", "nobody") == {}
    assert users.reads == 2


async def test_tenants_never_share_an_entry() -> None:
    users = CountingUsers()
    users.docs["t1", "u1"] = {"attributes": {"plan": "a"}}
    users.docs["t2", "u1"] = {"attributes": {"plan": "b"}}
    cache = _cache(users)
    assert await cache.attributes("t1", "u1") == {"plan": "a"}
    assert await cache.attributes("t2", "u1") == {"plan": "b"}


async def test_forget_and_expiry_read_again() -> None:
    users = CountingUsers()
    users.docs["t1", "u1"] = {"attributes": {"age": 30}}
    cache = _cache(users, ttl_s=0.2)
    await cache.attributes("t1", "u1")
    users.docs["t1", "u1"] = {"attributes": {"age": 31}}
    cache.forget("t1", "u1")
    assert await cache.attributes("t1", "u1") == {"age": 31}
    users.docs["t1", "u1"] = {"attributes": {"age": 32}}
    time.sleep(0.25)
    assert await cache.attributes("t1", "u1") == {"age": 32}
    assert users.reads == 3
