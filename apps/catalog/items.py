"""/items: items in MongoDB; every change is published to the items topic for downstream state."""

from __future__ import annotations

import json
from typing import Any

from dapr.aio.clients import DaprClient
from fastapi import APIRouter, HTTPException, Query, Request, status

from apps.catalog.schemas import ItemFields
from apps.shared.settings import ITEMS_TOPIC
from lemo.events import Identifier
from lemo.stores.mongo import ItemRepository

router = APIRouter(prefix="/items", tags=["items"])


async def _publish_change(request: Request, change: dict[str, Any]) -> None:
    client: DaprClient = request.app.state.dapr
    await client.publish_event(
        request.app.state.settings.pubsub_name,
        ITEMS_TOPIC,
        json.dumps(change, default=str),
        data_content_type="application/json",
    )


@router.put("/{tenant_id}/{item_id}")
async def upsert_item(
    tenant_id: Identifier, item_id: Identifier, fields: ItemFields, request: Request
) -> dict[str, Any]:
    repo: ItemRepository = request.app.state.items
    item = await repo.upsert(tenant_id, item_id, fields.model_dump(exclude_unset=True))
    await _publish_change(request, {"op": "upsert", "item": item})
    return item


@router.get("/{tenant_id}/{item_id}")
async def get_item(tenant_id: Identifier, item_id: Identifier, request: Request) -> dict[str, Any]:
    item = await request.app.state.items.get(tenant_id, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "item_not_found", "item_id": item_id})
    return item  # type: ignore[no-any-return]


@router.delete("/{tenant_id}/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(tenant_id: Identifier, item_id: Identifier, request: Request) -> None:
    if not await request.app.state.items.delete(tenant_id, item_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "item_not_found", "item_id": item_id})
    await _publish_change(request, {"op": "delete", "item": {"tenant_id": tenant_id, "item_id": item_id}})


@router.get("/{tenant_id}")
async def list_items(
    tenant_id: Identifier,
    request: Request,
    category: Identifier | None = None,
    after: Identifier | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    page = await request.app.state.items.list(tenant_id, category=category, after=after, limit=limit)
    return {"items": page, "next": page[-1]["item_id"] if len(page) == limit else None}
