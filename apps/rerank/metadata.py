"""Item metadata as the rerank rules read it, from the tenant's catalog (MongoDB) through a per-tenant cache. Every
lookup is keyed by tenant: another tenant's item ids are simply unknown here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lemo.catalog import epoch_seconds
from lemo.stores.ports import ItemReader

logger = logging.getLogger(__name__)

FIELDS = ("categories", "tags", "published_at", "attributes", "hidden", "expires_at")


@dataclass(frozen=True, slots=True)
class ItemMeta:
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    published_at: float | None = None  # epoch seconds
    attributes: Mapping[str, Any] = field(default_factory=dict)
    hidden: bool = False
    expires_at: float | None = None

    def available(self, now: float) -> bool:
        return not self.hidden and (self.expires_at is None or self.expires_at > now)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ItemMeta:
        return cls(
            categories=tuple(str(c) for c in doc.get("categories") or ()),
            tags=tuple(str(t) for t in doc.get("tags") or ()),
            published_at=epoch_seconds(doc.get("published_at")),
            attributes=dict(doc.get("attributes") or {}),
            hidden=bool(doc.get("hidden", False)),
            expires_at=epoch_seconds(doc.get("expires_at")),
        )


class MetadataCache:
    """item_id -> ItemMeta, or None for an id the tenant's catalog does not have (cached too, so unknown ids do not
    cost a query each request).

    A request never waits on the catalog for an item it has seen before. While a tenant is being served, its
    catalog (up to `max_items`) is read in the background every `ttl_s / 2`: one scan, which a MongoDB-wire store
    without index use (FerretDB over SQLite) answers at the cost of a single id lookup. A request that misses ids
    while a scan is in flight waits for the scan; an id the scan did not bring is fetched at once; an entry older
    than `ttl_s` (one the scans do not cover) is served as it is while a background lookup refreshes it. A catalog
    change reaches rerank within `ttl_s` plus one request."""

    def __init__(
        self, items: ItemReader, ttl_s: float, max_items: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._items = items
        self._ttl_s = ttl_s
        self._max_items = max_items
        self._clock = clock
        self._tenants: dict[str, OrderedDict[str, tuple[float, ItemMeta | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stale: dict[str, set[str]] = {}  # tenant -> ids waiting for a background refresh
        self._scanned: dict[str, float] = {}  # tenant -> when its latest catalog scan started
        self._scanning: dict[str, asyncio.Future[None]] = {}  # tenant -> its scan in flight

    async def get_many(self, tenant_id: str, item_ids: Sequence[str]) -> dict[str, ItemMeta | None]:
        cache = self._tenants.setdefault(tenant_id, OrderedDict())
        now = self._clock()
        if now - self._scanned.get(tenant_id, float("-inf")) > self._ttl_s / 2:
            self._scanned[tenant_id] = now  # one scan at a time: the next is due ttl_s / 2 after this one started
            self._scanning[tenant_id] = self._background(self._scan(tenant_id))
        found: dict[str, ItemMeta | None] = {}
        missing: list[str] = []
        stale: list[str] = []
        for item_id in dict.fromkeys(item_ids):
            hit = cache.get(item_id)
            if hit is None:
                missing.append(item_id)
                continue
            found[item_id] = hit[1]
            if hit[0] <= now:
                stale.append(item_id)
        scan = self._scanning.get(tenant_id)
        if missing and scan is not None and not scan.done():
            # The scan in flight reads every item: wait for it rather than read the same items again (to FerretDB a
            # lookup of many ids costs as much as the scan, so a cold tenant's first requests each paid one).
            await asyncio.shield(scan)
            for item_id in missing:
                if (hit := cache.get(item_id)) is not None:
                    found[item_id] = hit[1]
            missing = [i for i in missing if i not in found]
        if missing:
            found.update(await self._fetch(tenant_id, missing))
        if stale:
            queued = self._stale.get(tenant_id)
            if queued is None:
                self._stale[tenant_id] = set(stale)
                self._background(self._refresh(tenant_id))
            else:
                queued.update(stale)
        return found

    async def idle(self) -> None:
        """Waits for the background reads in flight (for tests and warm-up)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # a reference until done, so the task is not collected mid-way
        task.add_done_callback(self._tasks.discard)
        return task

    async def _fetch(self, tenant_id: str, item_ids: Sequence[str]) -> dict[str, ItemMeta | None]:
        docs = {d["item_id"]: d for d in await self._items.get_many(tenant_id, item_ids, FIELDS)}
        return self._store(tenant_id, {i: docs.get(i) for i in item_ids})

    def _store(self, tenant_id: str, docs: Mapping[str, Mapping[str, Any] | None]) -> dict[str, ItemMeta | None]:
        cache = self._tenants.setdefault(tenant_id, OrderedDict())
        expires = self._clock() + self._ttl_s
        stored: dict[str, ItemMeta | None] = {}
        for item_id, doc in docs.items():
            meta = ItemMeta.from_doc(doc) if doc is not None else None
            stored[item_id] = meta
            cache.pop(item_id, None)
            cache[item_id] = (expires, meta)
        while len(cache) > self._max_items:
            cache.popitem(last=False)
        return stored

    async def _refresh(self, tenant_id: str) -> None:
        try:
            while ids := self._stale.get(tenant_id):
                self._stale[tenant_id] = set()
                await self._fetch(tenant_id, sorted(ids))
        except Exception:  # the stale entries keep serving; the next request that finds them queues them again
            logger.warning("refreshing item metadata failed", exc_info=True, extra={"tenant_id": tenant_id})
        finally:
            self._stale.pop(tenant_id, None)

    async def _scan(self, tenant_id: str) -> None:
        started = time.perf_counter()
        docs: dict[str, Mapping[str, Any] | None] = {}
        try:
            async for doc in self._items.scan(tenant_id, ("item_id", *FIELDS)):
                if doc.get("item_id") is not None:
                    docs[str(doc["item_id"])] = doc
                    if len(docs) >= self._max_items:
                        break
        except Exception:  # requests keep fetching what they miss; the next request after ttl_s / 2 scans again
            logger.warning("reading the catalog failed", exc_info=True, extra={"tenant_id": tenant_id})
            return
        self._store(tenant_id, docs)
        logger.debug(
            "item metadata of %d items in %.0f ms",
            len(docs),
            (time.perf_counter() - started) * 1000,
            extra={"tenant_id": tenant_id},
        )
