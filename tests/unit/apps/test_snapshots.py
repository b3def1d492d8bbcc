"""apps/shared/snapshots.py with a fake catalog: one build per tenant at a time and one across tenants, the old
snapshot served while a rebuild runs, item changes kept across a build, and a failed build retried."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from apps.shared.snapshots import TenantSnapshots

Snapshot = dict[str, str]  # item id -> title


class Catalog:
    """The tenants' items, read when a build starts; a build then waits at `gate` until the test opens it."""

    def __init__(self, items: dict[str, Snapshot]) -> None:
        self.items = items
        self.builds: list[str] = []  # the tenants whose builds started, in order
        self.running = 0
        self.most_running = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.down = False

    async def build(self, tenant_id: str) -> Snapshot:
        self.builds.append(tenant_id)
        snapshot = dict(self.items.get(tenant_id, {}))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
        if self.down:
            raise ConnectionError("catalog store down")
        return snapshot

    def change(self, snapshots: TenantSnapshots[Snapshot], tenant_id: str, op: str, item_id: str, title: str) -> None:
        """Changes the store, as the catalog app does, then publishes the change."""
        if op == "delete":
            self.items[tenant_id].pop(item_id, None)
        else:
            self.items[tenant_id][item_id] = title
        snapshots.on_change(tenant_id, {"op": op, "item": {"tenant_id": tenant_id, "item_id": item_id, "title": title}})


def apply(snapshot: Snapshot, change: Mapping[str, Any]) -> None:
    item = change["item"]
    if change["op"] == "delete":
        snapshot.pop(item["item_id"], None)
    else:
        snapshot[item["item_id"]] = item["title"]


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def snapshots_of(catalog: Catalog, clock: Clock) -> TenantSnapshots[Snapshot]:
    return TenantSnapshots("test", catalog.build, apply, len, refresh_s=10, clock=clock)


async def settle() -> None:
    """Lets the tasks that can run, run (a build up to its gate)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_concurrent_first_gets_wait_for_one_build() -> None:
    catalog = Catalog({"a": {"1": "one"}})
    snapshots = snapshots_of(catalog, Clock())
    catalog.gate.clear()
    gets = [asyncio.create_task(snapshots.get("a")) for _ in range(3)]
    await settle()
    assert not any(g.done() for g in gets)  # the first use waits for the snapshot
    catalog.gate.set()
    results = await asyncio.gather(*gets)
    assert results == [{"1": "one"}] * 3
    assert catalog.builds == ["a"]
    assert await snapshots.get("a") is results[0]  # and later gets are served from it


async def test_a_stale_snapshot_serves_while_one_rebuild_runs_then_is_replaced() -> None:
    catalog, clock = Catalog({"a": {"1": "one"}}), Clock()
    snapshots = snapshots_of(catalog, clock)
    old = await snapshots.get("a")
    catalog.items["a"]["2"] = "two"  # written without a change on the topic: only a rebuild brings it
    clock.now += 5
    assert await snapshots.get("a") is old
    assert catalog.builds == ["a"]  # not due yet
    clock.now += 6
    catalog.gate.clear()
    assert await snapshots.get("a") is old  # due: served at once...
    await settle()
    assert await snapshots.get("a") is old
    assert catalog.builds == ["a", "a"]  # ... while one rebuild runs
    catalog.gate.set()
    await settle()
    assert await snapshots.get("a") == {"1": "one", "2": "two"}
    assert catalog.builds == ["a", "a"]  # the new snapshot is fresh


async def test_a_change_during_the_first_build_is_in_the_built_snapshot() -> None:
    catalog = Catalog({"a": {"1": "one", "2": "two"}})
    snapshots = snapshots_of(catalog, Clock())
    catalog.gate.clear()
    first = asyncio.create_task(snapshots.get("a"))
    await settle()  # the build has read the items
    catalog.change(snapshots, "a", "upsert", "1", "hidden")
    catalog.change(snapshots, "a", "delete", "2", "")
    catalog.gate.set()
    assert await first == {"1": "hidden"}


async def test_a_change_during_a_rebuild_applies_at_once_and_stays_in_the_new_snapshot() -> None:
    catalog, clock = Catalog({"a": {"1": "one", "2": "two"}}), Clock()
    snapshots = snapshots_of(catalog, clock)
    old = await snapshots.get("a")
    clock.now += 11
    catalog.gate.clear()
    await snapshots.get("a")
    await settle()  # the rebuild has read the items
    catalog.change(snapshots, "a", "upsert", "1", "hidden")
    catalog.change(snapshots, "a", "delete", "2", "")
    assert old == {"1": "hidden"}  # at once, on the snapshot serving
    catalog.gate.set()
    await settle()
    new = await snapshots.get("a")
    assert new is not old and new == {"1": "hidden"}  # and not undone by the rebuild
    catalog.change(snapshots, "a", "upsert", "3", "three")
    assert await snapshots.get("a") == {"1": "hidden", "3": "three"}  # later changes reach the new one


async def test_one_build_runs_at_a_time_across_tenants() -> None:
    catalog = Catalog({"a": {"1": "one"}, "b": {"9": "nine"}})
    snapshots = snapshots_of(catalog, Clock())
    catalog.gate.clear()
    gets = [asyncio.create_task(snapshots.get(t)) for t in ("a", "b")]
    await settle()
    assert catalog.builds == ["a"]  # b's waits for a's
    catalog.change(snapshots, "b", "upsert", "8", "eight")  # b's load has begun: its changes are kept
    catalog.gate.set()
    assert await asyncio.gather(*gets) == [{"1": "one"}, {"9": "nine", "8": "eight"}]
    assert catalog.builds == ["a", "b"] and catalog.most_running == 1


async def test_a_failed_build_is_raised_to_its_waiters_and_the_next_get_builds_again() -> None:
    catalog, clock = Catalog({"a": {"1": "one"}}), Clock()
    snapshots = snapshots_of(catalog, clock)
    catalog.down = True
    catalog.gate.clear()
    gets = [asyncio.create_task(snapshots.get("a")) for _ in range(2)]
    await settle()
    catalog.gate.set()
    for get in gets:
        with pytest.raises(ConnectionError):
            await get
    catalog.down = False
    old = await snapshots.get("a")
    assert old == {"1": "one"} and catalog.builds == ["a", "a"]

    clock.now += 11
    catalog.down = True  # a failed rebuild leaves the old snapshot serving
    assert await snapshots.get("a") is old
    await settle()
    catalog.down = False
    catalog.items["a"]["2"] = "two"
    assert await snapshots.get("a") is old  # still stale: this get starts another rebuild
    await settle()
    assert await snapshots.get("a") == {"1": "one", "2": "two"}
    assert catalog.builds == ["a", "a", "a", "a"]
