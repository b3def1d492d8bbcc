"""apps/feeds/refresher.py Population, on in-memory fakes of its ports (lemo.stores.ports TenantList, UserIds,
ActiveUsers): whose feeds the warm-up refreshes, from the users collection or, with a window, from the archive."""

from __future__ import annotations

import time
from collections.abc import Sequence

from apps.feeds.refresher import Population
from lemo.tenancy import Tenant


class Tenants:
    async def all(self, limit: int) -> list[Tenant]:
        return [Tenant(tenant_id="acme"), Tenant(tenant_id="globex")][:limit]


class Users:
    async def ids(self, tenant_id: str, limit: int) -> list[str]:
        return [f"{tenant_id}-u{i}" for i in range(5)][:limit]


class Archive:
    """Saw u9 act an hour ago and u7 a day ago."""

    def __init__(self) -> None:
        self.acted = {"u9": time.time() - 3600, "u7": time.time() - 86400}

    async def active_users(
        self, tenant_id: str, since: float, limit: int, exclude_types: Sequence[str] = ("impression",)
    ) -> list[str]:
        recent = sorted((at, u) for u, at in self.acted.items() if at >= since)
        return [u for _, u in reversed(recent)][:limit]


async def test_every_stored_user_is_warmed_without_a_window() -> None:
    population = Population(Tenants(), Users(), Archive(), window_s=0)
    assert await population.tenants() == ["acme", "globex"]
    assert await population.users("acme", 3) == ["acme-u0", "acme-u1", "acme-u2"]


async def test_a_window_warms_only_the_users_the_archive_saw_act_within_it() -> None:
    assert await Population(Tenants(), Users(), Archive(), window_s=7200).users("acme", 10) == ["u9"]
    assert await Population(Tenants(), Users(), Archive(), window_s=2 * 86400).users("acme", 10) == ["u9", "u7"]
