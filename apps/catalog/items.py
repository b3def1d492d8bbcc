"""/items/{tenant_id}: items in MongoDB; every change is published to the items topic."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Query, Request, status

from apps.shared.errors import ApiError
from apps.shared.ndjson import BatchReport, ndjson_models
from apps.shared.publish import Entry, Publisher
from apps.shared.settings import ITEMS_TOPIC
from lemo.catalog import MAX_BATCH_LINE_BYTES, Item, ItemFields
from lemo.events import Identifier
from lemo.stores.mongo import ItemRepository

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/items", tags=["items"])

BATCH_CHUNK = 500


def _repo(request: Request) -> ItemRepository:
    return request.app.state.items  # type: ignore[no-any-return]


def _publisher(request: Request) -> Publisher:
    return request.app.state.publisher  # type: ignore[no-any-return]


def _not_found(item_id: str) -> ApiError:
    return ApiError(status.HTTP_404_NOT_FOUND, "item_not_found", f"no item {item_id}", item_id=item_id)


async def _changed(request: Request, op: str, item: dict[str, Any]) -> None:
    await _publisher(request).publish(ITEMS_TOPIC, {"op": op, "item": item})


async def delete_and_publish(repo: ItemRepository, publisher: Publisher, tenant_id: str, item_id: str) -> bool:
    """Deletes an item and publishes the change (False when there was none); for the ingest topics."""
    if not await repo.delete(tenant_id, item_id):
        return False
    await publisher.publish(ITEMS_TOPIC, {"op": "delete", "item": {"tenant_id": tenant_id, "item_id": item_id}})
    return True


async def upsert_and_publish(
    repo: ItemRepository, publisher: Publisher, tenant_id: str, chunk: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Upserts items in one write and publishes their changes in one bulk call (the batch API and the ingest
    topics). A change the broker did not take is logged: the item is stored all the same, and its next change
    republishes it."""
    await repo.upsert_many(tenant_id, chunk)
    entries = [
        Entry(f"{i}", {"op": "upsert", "item": {**f, "tenant_id": tenant_id, "item_id": item_id}})
        for i, (item_id, f) in enumerate(chunk)
    ]
    failed = await publisher.publish_bulk(ITEMS_TOPIC, entries)
    if failed:
        logger.warning(
            "%d item changes not published: %s",
            len(failed),
            next(iter(failed.values())),
            extra={"tenant_id": tenant_id},
        )


@router.post("/{tenant_id}", status_code=status.HTTP_201_CREATED)
async def create_item(tenant_id: Identifier, body: Item, request: Request) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True, exclude={"item_id"})
    item = await _repo(request).create(tenant_id, body.item_id, fields)
    if item is None:
        raise ApiError(status.HTTP_409_CONFLICT, "item_exists", f"item {body.item_id} exists", item_id=body.item_id)
    await _changed(request, "upsert", item)
    return item


@router.put("/{tenant_id}/{item_id}")
async def upsert_item(tenant_id: Identifier, item_id: Identifier, body: ItemFields, request: Request) -> dict[str, Any]:
    item = await _repo(request).upsert(tenant_id, item_id, body.model_dump(exclude_unset=True))
    await _changed(request, "upsert", item)
    return item


@router.patch("/{tenant_id}/{item_id}")
async def update_item(tenant_id: Identifier, item_id: Identifier, body: ItemFields, request: Request) -> dict[str, Any]:
    item = await _repo(request).update(tenant_id, item_id, body.model_dump(exclude_unset=True))
    if item is None:
        raise _not_found(item_id)
    await _changed(request, "upsert", item)
    return item


@router.get("/{tenant_id}/{item_id}")
async def get_item(tenant_id: Identifier, item_id: Identifier, request: Request) -> dict[str, Any]:
    item = await _repo(request).get(tenant_id, item_id)
    if item is None:
        raise _not_found(item_id)
    return item


@router.delete("/{tenant_id}/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(tenant_id: Identifier, item_id: Identifier, request: Request) -> None:
    if not await _repo(request).delete(tenant_id, item_id):
        raise _not_found(item_id)
    await _changed(request, "delete", {"tenant_id": tenant_id, "item_id": item_id})


@router.get("/{tenant_id}")
async def list_items(
    tenant_id: Identifier,
    request: Request,
    category: Identifier | None = None,
    tag: str | None = Query(None, max_length=100),
    hidden: bool | None = None,
    after: Identifier | None = None,
    limit: int = Query(100, ge=1, le=1000),
    q: str | None = Query(None, max_length=100, pattern=r"^[^\x00-\x1f]*$"),
    total: bool = False,
) -> dict[str, Any]:
    filters: dict[str, Any] = {"category": category, "tag": tag, "hidden": hidden, "search": q}
    page = await _repo(request).list(tenant_id, after=after, limit=limit, **filters)
    body: dict[str, Any] = {"items": page, "next": page[-1]["item_id"] if len(page) == limit else None}
    if total:
        body["total"] = await _repo(request).count(tenant_id, **filters)
    return body


@router.post("/{tenant_id}/_batch")
async def batch_upsert(tenant_id: Identifier, request: Request) -> dict[str, Any]:
    """Upserts items from an NDJSON body (one item per line), streamed in chunks: each chunk is written and its
    changes published before the next is read, so accepted items stay accepted if a later line is bad."""
    report = BatchReport()
    chunk: list[tuple[str, dict[str, Any]]] = []

    async def flush() -> None:
        if not chunk:
            return
        await upsert_and_publish(_repo(request), _publisher(request), tenant_id, chunk)
        report.accepted += len(chunk)
        chunk.clear()

    async for item in ndjson_models(request.stream(), Item, MAX_BATCH_LINE_BYTES, report):
        chunk.append((item.item_id, item.model_dump(exclude_unset=True, exclude={"item_id"})))
        if len(chunk) >= BATCH_CHUNK:
            await flush()
    await flush()
    return report.as_dict()
