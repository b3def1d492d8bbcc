"""PyMongo Async against the real MongoDB-wire server (FerretDB): CRUD, indexes, the queries we rely on."""

from __future__ import annotations

import time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from lemo.events import Event
from lemo.stores.mongo import EventArchive, ItemRepository


async def test_item_crud_pagination_and_tenant_scope(db: AsyncDatabase[dict[str, Any]], tenant: str) -> None:
    repo = ItemRepository(db)
    await repo.ensure_indexes()
    await repo.ensure_indexes()  # idempotent: a restarted app runs it again
    names = {i["name"] for i in await (await db["items"].list_indexes()).to_list()}
    assert {"tenant_item", "tenant_category", "tenant_published"} <= names

    for n in range(5):
        await repo.upsert(tenant, f"i{n}", {"title": f"Item {n}", "categories": ["even" if n % 2 == 0 else "odd"]})
    await repo.upsert("other-tenant", "i0", {"title": "not yours"})

    assert (await repo.get(tenant, "i0")) == {
        "tenant_id": tenant,
        "item_id": "i0",
        "title": "Item 0",
        "categories": ["even"],
    }
    updated = await repo.upsert(tenant, "i0", {"hidden": True})
    assert updated["title"] == "Item 0" and updated["hidden"] is True

    first = await repo.list(tenant, limit=2)
    second = await repo.list(tenant, after=first[-1]["item_id"], limit=2)
    rest = await repo.list(tenant, after=second[-1]["item_id"], limit=2)
    assert [i["item_id"] for i in first + second + rest] == ["i0", "i1", "i2", "i3", "i4"]
    assert [i["item_id"] for i in await repo.list(tenant, category="even")] == ["i0", "i2", "i4"]

    assert await repo.delete(tenant, "i1") is True
    assert await repo.delete(tenant, "i1") is False
    assert await repo.get(tenant, "i1") is None
    assert (await repo.get("other-tenant", "i0") or {})["title"] == "not yours"
    assert await repo.delete("other-tenant", "i3") is False  # another tenant cannot touch ours
    assert await repo.get(tenant, "i3") is not None


async def test_event_archive_is_idempotent_and_scoped(db: AsyncDatabase[dict[str, Any]], tenant: str) -> None:
    archive = EventArchive(db, retention_days=1)
    await archive.ensure_indexes()
    now = time.time()
    event = Event(tenant_id=tenant, user_id="u1", item_id="i1", type="click", timestamp=now)
    assert await archive.append(event) is True
    assert await archive.append(event) is False  # redelivery
    # The same event_id from another tenant is a different event.
    assert await archive.append(event.model_copy(update={"tenant_id": f"{tenant}x"})) is True
    old = Event(tenant_id=tenant, user_id="u1", item_id="i0", type="view", timestamp=now - 3 * 86400)
    await archive.append(old)

    assert [i.item_id async for i in archive.interactions(tenant, since=now - 60)] == ["i1"]
    assert {tenant, f"{tenant}x"} <= set(await archive.tenants())
    # Retention counts from archiving, so an old event archived just now stays; purging is per tenant.
    assert await archive.purge_expired(tenant, now) == 0
    assert await archive.purge_expired(tenant, now + 2 * 86400) == 2
    assert [i async for i in archive.interactions(tenant)] == []
    assert [i.item_id async for i in archive.interactions(f"{tenant}x")] == ["i1"]
