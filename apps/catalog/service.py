"""The catalog's operations, for its routes and its ingest consumer alike: items in MongoDB, and every change
published to the items topic (which recall's catalog view, rerank's metadata and the profiles app follow)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import status

from apps.shared.errors import ApiError
from apps.shared.publish import Entry, Publisher
from apps.shared.settings import ITEMS_TOPIC
from lemo.stores.ports import ItemCatalog

logger = logging.getLogger(__name__)


def _not_found(item_id: str) -> ApiError:
    return ApiError(status.HTTP_404_NOT_FOUND, "item_not_found", f"no item {item_id}", item_id=item_id)


class Catalog:
    def __init__(self, repo: ItemCatalog, publisher: Publisher) -> None:
        self._repo = repo
        self._publisher = publisher

    async def _changed(self, op: str, item: dict[str, Any]) -> None:
        await self._publisher.publish(ITEMS_TOPIC, {"op": op, "item": item})

    async def create(self, tenant_id: str, item_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A new item; 409 when it exists."""
        item = await self._repo.create(tenant_id, item_id, fields)
        if item is None:
            raise ApiError(status.HTTP_409_CONFLICT, "item_exists", f"item {item_id} exists", item_id=item_id)
        await self._changed("upsert", item)
        return item

    async def upsert(self, tenant_id: str, item_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        item = await self._repo.upsert(tenant_id, item_id, fields)
        await self._changed("upsert", item)
        return item

    async def update(self, tenant_id: str, item_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Changes the given fields of an existing item; 404 when there is none."""
        item = await self._repo.update(tenant_id, item_id, fields)
        if item is None:
            raise _not_found(item_id)
        await self._changed("upsert", item)
        return item

    async def get(self, tenant_id: str, item_id: str) -> dict[str, Any]:
        item = await self._repo.get(tenant_id, item_id)
        if item is None:
            raise _not_found(item_id)
        return item

    async def delete(self, tenant_id: str, item_id: str) -> None:
        if not await self.delete_if_present(tenant_id, item_id):
            raise _not_found(item_id)

    async def delete_if_present(self, tenant_id: str, item_id: str) -> bool:
        """Deletes an item and publishes the change (False when there was none); for the ingest topics."""
        if not await self._repo.delete(tenant_id, item_id):
            return False
        await self._changed("delete", {"tenant_id": tenant_id, "item_id": item_id})
        return True

    async def page(
        self, tenant_id: str, filters: dict[str, Any], after: str | None, limit: int, total: bool
    ) -> dict[str, Any]:
        """One page of items matching `filters`, with the cursor of the next (None on the last page)."""
        page = await self._repo.list(tenant_id, after=after, limit=limit, **filters)
        body: dict[str, Any] = {"items": page, "next": page[-1]["item_id"] if len(page) == limit else None}
        if total:
            body["total"] = await self._repo.count(tenant_id, **filters)
        return body

    async def upsert_many(self, tenant_id: str, chunk: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Upserts items in one write and publishes their changes in one bulk call (the batch API and the ingest
        topics). A change the broker did not take is logged: the item is stored all the same, and its next change
        republishes it."""
        await self._repo.upsert_many(tenant_id, chunk)
        entries = [
            Entry(f"{i}", {"op": "upsert", "item": {**f, "tenant_id": tenant_id, "item_id": item_id}})
            for i, (item_id, f) in enumerate(chunk)
        ]
        failed = await self._publisher.publish_bulk(ITEMS_TOPIC, entries)
        if failed:
            logger.warning(
                "%d item changes not published: %s",
                len(failed),
                next(iter(failed.values())),
                extra={"tenant_id": tenant_id},
            )
