"""lemo/stores/exposures.py against the real MongoDB-wire server (FerretDB): one document per served list, a
redelivery is a no-op, reads never leave the tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from lemo.exposures import Exposure, ServedBy
from lemo.stores.exposures import ExposureArchive

T0 = 1_733_000_000.0


def _list(tenant: str, n: int, variant: str, items: int = 3) -> Exposure:
    return Exposure(
        request_id=f"r{n}",
        tenant_id=tenant,
        user_id=f"u{n % 2}",
        scenario="home",
        experiment="ab",
        variant=variant,
        items=[f"i{n}-{k}" for k in range(items)],
        mode=ServedBy.CACHED,
        timestamp=T0 + n,
    )


async def test_lists_are_archived_once_and_read_back_per_tenant(db: AsyncDatabase[dict[str, Any]], tenant: str) -> None:
    archive = ExposureArchive(db, retention_days=36500)
    await archive.ensure_indexes()
    await archive.ensure_indexes()  # idempotent: a restarted app runs it again
    lists = [_list(tenant, n, "a" if n < 3 else "b") for n in range(5)]
    assert await archive.append_many(lists) == lists
    newer = _list(tenant, 5, "b", items=10)
    assert await archive.append_many([*lists[:2], newer]) == [newer]  # redeliveries + one new
    await archive.append_many([_list("other-tenant", 0, "a")])

    found = sorted([e async for e in archive.scan(tenant)], key=lambda e: e.request_id)
    assert [e.request_id for e in found] == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert found[0] == lists[0]  # the record as the gateway wrote it
    assert [e.request_id async for e in archive.scan(tenant, since=T0 + 4, until=T0 + 5)] == ["r4"]
    assert await archive.counts(tenant, T0, T0 + 100) == [
        {"scenario": "home", "variant": "a", "lists": 3, "items": 9},
        {"scenario": "home", "variant": "b", "lists": 3, "items": 16},
    ]


async def test_a_forgotten_list_is_new_again(db: AsyncDatabase[dict[str, Any]], tenant: str) -> None:
    """A delivery whose counting failed takes its new lists out, so that the redelivery counts them."""
    archive = ExposureArchive(db, retention_days=36500)
    lists = [_list(tenant, n, "a") for n in range(3)]
    assert await archive.append_many(lists) == lists
    await archive.forget(lists[:2])
    assert await archive.append_many(lists) == lists[:2]


async def test_lists_past_retention_are_purged_per_tenant(db: AsyncDatabase[dict[str, Any]], tenant: str) -> None:
    archive = ExposureArchive(db, retention_days=30)
    await archive.ensure_indexes()
    now = T0 + 100 * 86400
    served = [_list(tenant, n, "a") for n in range(2)]
    old = served[0].model_copy(update={"timestamp": now - 31 * 86400})
    recent = served[1].model_copy(update={"timestamp": now - 29 * 86400})
    theirs = _list(f"{tenant}-other", 0, "a").model_copy(update={"timestamp": now - 31 * 86400})
    await archive.append_many([old, recent, theirs])
    stored = await db["exposures"].find_one({"_id": f"{tenant}/{old.request_id}"})
    assert stored is not None  # the date a MongoDB TTL index deletes it at: served + retention
    assert stored["expire_at"].replace(tzinfo=UTC) == datetime.fromtimestamp(old.timestamp + 30 * 86400, UTC)

    assert await archive.purge_expired(tenant, now) == 1
    assert [e.request_id async for e in archive.scan(tenant)] == [recent.request_id]
    assert [e.request_id async for e in archive.scan(theirs.tenant_id)] == [theirs.request_id]  # not this tenant's
    assert await archive.purge_expired(tenant, now) == 0
