"""apps/rerank/metadata.py with a fake catalog: dates as epoch seconds, availability, the per-tenant cache (warmed
from the catalog, stale entries served while they refresh)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from apps.rerank.metadata import ItemMeta, MetadataCache
from lemo.catalog import epoch_seconds

JAN_2000 = 946684800.0


class FakeCatalog:
    def __init__(self, items: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.items = items
        self.asked: list[list[str]] = []
        self.scans = 0

    async def get_many(
        self, tenant_id: str, item_ids: Sequence[str], fields: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        self.asked.append(list(item_ids))
        return [{"item_id": i, **self.items[(tenant_id, i)]} for i in item_ids if (tenant_id, i) in self.items]

    async def scan(self, tenant_id: str, fields: Sequence[str]) -> AsyncIterator[dict[str, Any]]:
        self.scans += 1
        for (tenant, item_id), doc in list(self.items.items()):
            if tenant == tenant_id:
                yield {"item_id": item_id, **doc}


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_dates_become_epoch_seconds_whatever_their_stored_form() -> None:
    assert epoch_seconds(datetime(2000, 1, 1, tzinfo=UTC)) == JAN_2000
    assert epoch_seconds(datetime(2000, 1, 1)) == JAN_2000  # naive: UTC
    assert epoch_seconds("2000-01-01T00:00:00+00:00") == JAN_2000
    assert epoch_seconds(JAN_2000) == JAN_2000
    unreadable: list[Any] = [None, True, "soon", []]
    assert [epoch_seconds(v) for v in unreadable] == [None] * 4


def test_hidden_and_expired_items_are_unavailable() -> None:
    assert ItemMeta.from_doc({"categories": ["a"]}).available(now=JAN_2000)
    assert not ItemMeta.from_doc({"hidden": True}).available(now=JAN_2000)
    expires = ItemMeta.from_doc({"expires_at": datetime(2000, 1, 1, tzinfo=UTC)})
    assert expires.available(now=JAN_2000 - 1) and not expires.available(now=JAN_2000)


async def test_the_cache_keys_by_tenant_remembers_unknown_ids_and_serves_stale_entries_while_refreshing() -> None:
    catalog, clock = FakeCatalog({("a", "1"): {"categories": ["drama"]}}), Clock()
    cache = MetadataCache(catalog, ttl_s=30, max_items=100, clock=clock)
    found = await cache.get_many("a", ["1", "2"])
    assert found["1"] == ItemMeta(categories=("drama",)) and found["2"] is None
    assert (await cache.get_many("b", ["1"]))["1"] is None  # tenant b never sees a's item
    await cache.idle()
    asked = len(catalog.asked)
    await cache.get_many("a", ["1", "2"])
    assert len(catalog.asked) == asked  # a's second lookup came from the cache, unknown id included
    clock.now += 31
    catalog.items[("a", "2")] = {"tags": ["new"]}
    assert (await cache.get_many("a", ["2"]))["2"] is None  # stale, served at once
    await cache.idle()
    assert catalog.asked[-1] == ["2"]  # ... and refreshed in the background
    assert (await cache.get_many("a", ["2"]))["2"] == ItemMeta(tags=("new",))


async def test_a_tenants_first_request_warms_its_whole_catalog() -> None:
    catalog = FakeCatalog({("a", str(n)): {"tags": [f"t{n}"]} for n in range(5)} | {("b", "9"): {}})
    cache = MetadataCache(catalog, ttl_s=30, max_items=100, clock=Clock())
    await cache.get_many("a", ["0"])
    await cache.idle()
    assert catalog.scans == 1
    asked = len(catalog.asked)
    found = await cache.get_many("a", ["1", "2", "3", "4", "9"])
    assert found["4"] == ItemMeta(tags=("t4",)) and found["9"] is None  # "9" is b's: unknown to a
    assert catalog.asked[asked:] == [["9"]]  # only the id the catalog read did not hold


async def test_a_served_tenants_catalog_is_read_again_every_half_ttl() -> None:
    catalog, clock = FakeCatalog({("a", "1"): {"tags": ["old"]}}), Clock()
    cache = MetadataCache(catalog, ttl_s=30, max_items=100, clock=clock)
    await cache.get_many("a", ["1"])
    await cache.idle()
    catalog.items[("a", "1")] = {"tags": ["new"]}
    clock.now += 10
    await cache.get_many("a", ["1"])
    await cache.idle()
    assert catalog.scans == 1  # not due yet
    clock.now += 10
    assert (await cache.get_many("a", ["1"]))["1"] == ItemMeta(tags=("old",))  # served at once...
    await cache.idle()
    assert catalog.scans == 2  # ... while the catalog is read again
    assert (await cache.get_many("a", ["1"]))["1"] == ItemMeta(tags=("new",))


async def test_the_cache_keeps_at_most_max_items_per_tenant() -> None:
    catalog = FakeCatalog({("a", str(n)): {} for n in range(5)})
    cache = MetadataCache(catalog, ttl_s=30, max_items=3, clock=Clock())
    await cache.get_many("a", ["0", "1", "2", "3", "4"])
    await cache.idle()
    assert len(cache._tenants["a"]) == 3


async def test_a_cold_tenants_requests_wait_for_its_one_catalog_read_instead_of_fetching_ids() -> None:
    catalog = FakeCatalog({("a", str(n)): {"tags": [f"t{n}"]} for n in range(5)})
    cache = MetadataCache(catalog, ttl_s=30, max_items=100, clock=Clock())
    results = await asyncio.gather(*(cache.get_many("a", ["0", "1", "2", "7"]) for _ in range(4)))
    assert all(r["2"] == ItemMeta(tags=("t2",)) and r["7"] is None for r in results)
    assert catalog.scans == 1
    assert all(asked == ["7"] for asked in catalog.asked)  # only the id the catalog does not hold was looked up
