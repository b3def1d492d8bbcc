"""Per-tenant snapshots of the catalog held in memory, for the serving apps that need every item of a tenant at hand
(the profiles app's item features, the recall app's catalog view) rather than a lookup per request.

A snapshot is read with one scan of the tenant's items, rebuilt in the background every `refresh_s` (the old one
serves meanwhile), and kept current between rebuilds by the item changes published on the items topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from apps.shared.tuning import freeze_loaded

logger = logging.getLogger(__name__)

S = TypeVar("S")
Change = Mapping[str, Any]  # {"op": "upsert" | "delete", "item": {"tenant_id", "item_id", ...}}


class TenantSnapshots(Generic[S]):
    """One snapshot per tenant: built by `build` on the tenant's first `get` (every caller waits for the same
    build), rebuilt in the background once older than `refresh_s` (the old snapshot serves meanwhile).

    `on_change` applies an item change to the current snapshot at once, so hiding an item takes effect without
    waiting for a rebuild. A change that arrives while a snapshot is being built is applied to the new snapshot
    too, before it replaces the old one: the scan may have read the item before the change, and the change would
    otherwise be undone until the next rebuild. `apply` must therefore tolerate a change the scan already saw (it
    sets fields; it does not add to them).

    One build runs at a time, whichever the tenant: on FerretDB each reads the whole collection (about a
    core-second for a collection of 10k items), and several tenants' first requests at once would starve every
    other process. A failed build is logged and raised to the callers waiting for a first snapshot; the next
    `get` tries again.
    """

    def __init__(
        self,
        name: str,
        build: Callable[[str], Awaitable[S]],
        apply: Callable[[S, Change], None],
        size: Callable[[S], int],
        refresh_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name  # for the logs
        self._build = build
        self._apply = apply
        self._size = size
        self._refresh_s = refresh_s
        self._clock = clock
        self._tenants: dict[str, tuple[float, S]] = {}  # tenant -> (built at, snapshot)
        self._loading: dict[str, asyncio.Task[S]] = {}
        self._changed_while_loading: dict[str, list[Change]] = {}
        self._one_build = asyncio.Semaphore(1)

    async def get(self, tenant_id: str) -> S:
        held = self._tenants.get(tenant_id)
        if held is not None:
            if self._clock() - held[0] > self._refresh_s:
                self._load(tenant_id)  # the current snapshot serves until the new one is built
            return held[1]
        # Shielded: a caller that gives up (a request's timeout) does not cancel the build the others wait for.
        return await asyncio.shield(self._load(tenant_id))

    def on_change(self, tenant_id: str, change: Change) -> None:
        """Applies an item change of the tenant to its snapshot, now and to the one being built if any."""
        pending = self._changed_while_loading.get(tenant_id)
        if pending is not None:
            pending.append(change)
        held = self._tenants.get(tenant_id)
        if held is not None:
            self._apply(held[1], change)

    def _load(self, tenant_id: str) -> asyncio.Task[S]:
        task = self._loading.get(tenant_id)
        if task is None:
            self._changed_while_loading[tenant_id] = []  # before the build starts, so no change slips between
            task = self._loading[tenant_id] = asyncio.create_task(self._build_and_swap(tenant_id))
            task.add_done_callback(_taken)
        return task

    async def _build_and_swap(self, tenant_id: str) -> S:
        try:
            async with self._one_build:
                started = time.perf_counter()
                snapshot = await self._build(tenant_id)
            # No await from here on: every change that arrives before the swap is in the list.
            for change in self._changed_while_loading.get(tenant_id, []):
                self._apply(snapshot, change)
            self._tenants[tenant_id] = (self._clock(), snapshot)
            freeze_loaded()
            logger.info(
                "%s: %d items in %.0f ms",
                self._name,
                self._size(snapshot),
                (time.perf_counter() - started) * 1000,
                extra={"tenant_id": tenant_id},
            )
            return snapshot
        except Exception:
            logger.warning(
                "%s: building the snapshot failed", self._name, exc_info=True, extra={"tenant_id": tenant_id}
            )
            raise
        finally:
            self._loading.pop(tenant_id, None)
            self._changed_while_loading.pop(tenant_id, None)


def _taken(task: asyncio.Task[Any]) -> None:
    """Marks a build's exception as taken: `_build_and_swap` has logged it, and a background rebuild has no caller that
    would take it (asyncio would log it again, as never retrieved)."""
    if not task.cancelled():
        task.exception()
