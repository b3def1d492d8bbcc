"""/items/{tenant_id}: items in MongoDB; every change is published to the items topic (apps/catalog/service.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status

from apps.catalog.deps import CatalogDep
from apps.catalog.schemas import MAX_BATCH_LINE_BYTES, Item, ItemFields
from apps.shared.ndjson import BatchReport, ndjson_models
from lemo.events import Identifier

router = APIRouter(prefix="/items", tags=["items"])

BATCH_CHUNK = 500


@router.post("/{tenant_id}", status_code=status.HTTP_201_CREATED)
async def create_item(tenant_id: Identifier, body: Item, catalog: CatalogDep) -> dict[str, Any]:
    return await catalog.create(tenant_id, body.item_id, body.model_dump(exclude_unset=True, exclude={"item_id"}))


@router.put("/{tenant_id}/{item_id}")
async def upsert_item(
    tenant_id: Identifier, item_id: Identifier, body: ItemFields, catalog: CatalogDep
) -> dict[str, Any]:
    return await catalog.upsert(tenant_id, item_id, body.model_dump(exclude_unset=True))


@router.patch("/{tenant_id}/{item_id}")
async def update_item(
    tenant_id: Identifier, item_id: Identifier, body: ItemFields, catalog: CatalogDep
) -> dict[str, Any]:
    return await catalog.update(tenant_id, item_id, body.model_dump(exclude_unset=True))


@router.get("/{tenant_id}/{item_id}")
async def get_item(tenant_id: Identifier, item_id: Identifier, catalog: CatalogDep) -> dict[str, Any]:
    return await catalog.get(tenant_id, item_id)


@router.delete("/{tenant_id}/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(tenant_id: Identifier, item_id: Identifier, catalog: CatalogDep) -> None:
    await catalog.delete(tenant_id, item_id)


@router.get("/{tenant_id}")
async def list_items(
    tenant_id: Identifier,
    catalog: CatalogDep,
    category: Identifier | None = None,
    tag: str | None = Query(None, max_length=100),
    hidden: bool | None = None,
    after: Identifier | None = None,
    limit: int = Query(100, ge=1, le=1000),
    q: str | None = Query(None, max_length=100, pattern=r"^[^\x00-\x1f]*$"),
    total: bool = False,
) -> dict[str, Any]:
    filters: dict[str, Any] = {"category": category, "tag": tag, "hidden": hidden, "search": q}
    return await catalog.page(tenant_id, filters, after, limit, total)


@router.post("/{tenant_id}/_batch")
async def batch_upsert(tenant_id: Identifier, request: Request, catalog: CatalogDep) -> dict[str, Any]:
    """Upserts items from an NDJSON body (one item per line), streamed in chunks: each chunk is written and its
    changes published before the next is read, so accepted items stay accepted if a later line is bad."""
    report = BatchReport()
    chunk: list[tuple[str, dict[str, Any]]] = []

    async def flush() -> None:
        if not chunk:
            return
        await catalog.upsert_many(tenant_id, chunk)
        report.accepted += len(chunk)
        chunk.clear()

    async for item in ndjson_models(request.stream(), Item, MAX_BATCH_LINE_BYTES, report):
        chunk.append((item.item_id, item.model_dump(exclude_unset=True, exclude={"item_id"})))
        if len(chunk) >= BATCH_CHUNK:
            await flush()
    await flush()
    return report.as_dict()
