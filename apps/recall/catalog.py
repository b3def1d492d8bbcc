"""The recall app's view of each tenant's catalog: what may be recommended (not hidden, not expired, still in the
catalog, passing the request's filters), the newest items (the `latest` channel) and the items per category/tag
(the `tag` channel).

One snapshot per tenant (`apps.shared.snapshots`), read from MongoDB on first use and rebuilt every `refresh_s`
(serving the old one meanwhile); item changes published on the items topic are applied at once, so hiding an item
takes effect without waiting for the rebuild, and are not lost when a rebuild replaces the snapshot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.shared.snapshots import TenantSnapshots
from lemo.catalog import epoch_seconds
from lemo.realtime.profile import interest_keys
from lemo.rerank.config import FilterSpec
from lemo.rerank.rules import FilterRule
from lemo.rerank.types import Candidate, RerankContext

FIELDS = ("item_id", "categories", "tags", "attributes", "published_at", "expires_at", "hidden")
ItemScan = Callable[[str], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class ItemInfo:
    item_id: str
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    published_at: float | None = None
    expires_at: float | None = None
    hidden: bool = False

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> ItemInfo:
        return cls(
            item_id=str(doc["item_id"]),
            categories=tuple(str(c) for c in doc.get("categories") or ()),
            tags=tuple(str(t) for t in doc.get("tags") or ()),
            attributes=dict(doc.get("attributes") or {}),
            published_at=epoch_seconds(doc.get("published_at")),
            expires_at=epoch_seconds(doc.get("expires_at")),
            hidden=bool(doc.get("hidden")),
        )

    def live(self, now: float) -> bool:
        return not self.hidden and (self.expires_at is None or self.expires_at > now)


class TenantCatalog:
    """One tenant's items; derived lists are rebuilt lazily after a change."""

    def __init__(self, items: Iterable[ItemInfo]) -> None:
        self.items = {i.item_id: i for i in items}
        self._latest: list[tuple[str, float]] | None = None
        self._by_key: dict[str, list[str]] | None = None
        self._ranked: dict[str, list[str]] = {}
        self._ranked_token: object = None

    def apply(self, op: str, doc: Mapping[str, Any]) -> None:
        item_id = str(doc.get("item_id"))
        if op == "delete":
            self.items.pop(item_id, None)
        else:
            current = self.items.get(item_id)
            merged = {**_as_doc(current), **doc} if current is not None else dict(doc)
            self.items[item_id] = ItemInfo.of(merged)
        self._latest, self._by_key, self._ranked = None, None, {}

    def eligible(self, item_id: str, now: float) -> bool:
        item = self.items.get(item_id)
        return item is not None and item.live(now)

    def latest(self, limit: int, now: float) -> list[tuple[str, float]]:
        """Live items by published_at, newest first (score: epoch seconds)."""
        if self._latest is None:
            dated = [(i.item_id, i.published_at) for i in self.items.values() if i.published_at is not None]
            self._latest = sorted(((i, p) for i, p in dated if p is not None), key=lambda x: (-x[1], x[0]))
        out = []
        for item_id, published in self._latest:
            if published <= now and self.eligible(item_id, now):
                out.append((item_id, published))
                if len(out) >= limit:
                    break
        return out

    def keyed(self, key: str, popularity: Mapping[str, float], token: object) -> list[str]:
        """Items with the interest key ("c:<category>" / "t:<tag>"), most popular first; cached per `token`
        (the popularity source's identity)."""
        if self._by_key is None:
            by_key: dict[str, list[str]] = {}
            for item in self.items.values():
                for k in interest_keys(list(item.categories), list(item.tags)):
                    by_key.setdefault(k, []).append(item.item_id)
            self._by_key = by_key
        if token != self._ranked_token:
            self._ranked, self._ranked_token = {}, token
        cached = self._ranked.get(key)
        if cached is None:
            members = self._by_key.get(key, [])
            published = {i: self.items[i].published_at or 0.0 for i in members}
            cached = sorted(members, key=lambda i: (-popularity.get(i, 0.0), -published[i], i))
            self._ranked[key] = cached
        return cached


def _as_doc(item: ItemInfo) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "categories": list(item.categories),
        "tags": list(item.tags),
        "attributes": dict(item.attributes),
        "published_at": item.published_at,
        "expires_at": item.expires_at,
        "hidden": item.hidden,
    }


def passes(item: ItemInfo, rule: FilterRule | None, now: float) -> bool:
    if not item.live(now):
        return False
    if rule is None:
        return True
    candidate = Candidate(item.item_id, 0.0, categories=item.categories, tags=item.tags, attributes=item.attributes)
    return bool(rule.apply([candidate], RerankContext(now=now, count=1)))


def filter_rule(spec: FilterSpec) -> FilterRule | None:
    """The rerank chain's own filter rule, so recall and rerank judge an item alike."""
    return None if spec.is_empty() else FilterRule(spec)


class CatalogView:
    """Per-tenant catalogs, loaded on first use and kept current as `TenantSnapshots` describes."""

    def __init__(self, scan: ItemScan, refresh_s: float) -> None:
        self._scan = scan
        self._snapshots: TenantSnapshots[TenantCatalog] = TenantSnapshots(
            "catalog view", self._read, _apply, lambda catalog: len(catalog.items), refresh_s
        )

    async def get(self, tenant_id: str) -> TenantCatalog:
        return await self._snapshots.get(tenant_id)

    def on_item_change(self, change: Mapping[str, Any]) -> None:
        item = change.get("item") or {}
        tenant_id = item.get("tenant_id")
        if tenant_id and item.get("item_id") is not None:
            self._snapshots.on_change(str(tenant_id), change)

    async def _read(self, tenant_id: str) -> TenantCatalog:
        docs = await self._scan(tenant_id)
        return TenantCatalog(ItemInfo.of(d) for d in docs if d.get("item_id") is not None)


def _apply(catalog: TenantCatalog, change: Mapping[str, Any]) -> None:
    item = change.get("item") or {}
    catalog.apply(str(change.get("op") or "upsert"), {k: v for k, v in item.items() if k in FIELDS})
