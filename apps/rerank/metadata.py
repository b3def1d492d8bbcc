"""Item metadata as the rerank rules read it, fetched from the tenant's catalog (MongoDB) through a small per-tenant
TTL cache. Every lookup is keyed by tenant: another tenant's item ids are simply unknown here."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lemo.catalog import epoch_seconds

FIELDS = ("categories", "tags", "published_at", "attributes", "hidden", "expires_at")


class ItemLookup(Protocol):
    """The part of lemo.stores.mongo.ItemRepository the cache reads."""

    async def get_many(
        self, tenant_id: str, item_ids: Sequence[str], fields: Sequence[str] | None = None
    ) -> list[dict[str, Any]]: ...


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
    cost a query each request)."""

    def __init__(
        self, items: ItemLookup, ttl_s: float, max_items: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._items = items
        self._ttl_s = ttl_s
        self._max_items = max_items
        self._clock = clock
        self._tenants: dict[str, OrderedDict[str, tuple[float, ItemMeta | None]]] = {}

    async def get_many(self, tenant_id: str, item_ids: Sequence[str]) -> dict[str, ItemMeta | None]:
        cache = self._tenants.setdefault(tenant_id, OrderedDict())
        now = self._clock()
        found: dict[str, ItemMeta | None] = {}
        missing: list[str] = []
        for item_id in dict.fromkeys(item_ids):
            hit = cache.get(item_id)
            if hit is not None and hit[0] > now:
                found[item_id] = hit[1]
            else:
                missing.append(item_id)
        if missing:
            docs = {d["item_id"]: d for d in await self._items.get_many(tenant_id, missing, FIELDS)}
            expires = self._clock() + self._ttl_s
            for item_id in missing:
                doc = docs.get(item_id)
                meta = ItemMeta.from_doc(doc) if doc is not None else None
                found[item_id] = meta
                cache.pop(item_id, None)
                cache[item_id] = (expires, meta)
            while len(cache) > self._max_items:
                cache.popitem(last=False)
        return found
