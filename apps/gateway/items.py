"""/v1/items: the tenant's catalog (served by the catalog app)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.deps import Api
from apps.gateway.downstream import ndjson_body, relayed
from apps.gateway.openapi import TENANT_ERRORS, ndjson_request_body
from apps.shared.errors import error_responses
from lemo.catalog import Item, ItemFields
from lemo.events import Identifier

router = APIRouter(prefix="/v1/items", tags=["items"], responses=TENANT_ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409))
async def create_item(body: Item, api: Api, who: Principal = Writer) -> Response:
    return relayed(await api.create_item(who.tenant_id, body))


@router.post("/batch", openapi_extra=ndjson_request_body(Item), responses=error_responses(415))
async def batch_upsert_items(request: Request, api: Api, who: Principal = Writer) -> Response:
    """Upserts items from an NDJSON body (`Content-Type: application/x-ndjson`, one item per line), streamed
    through to the catalog without being held in memory; answers how many were accepted and which lines failed."""
    return relayed(await api.batch_upsert_items(who.tenant_id, ndjson_body(request)))


@router.get("")
async def list_items(
    api: Api,
    category: Identifier | None = None,
    tag: str | None = Query(None, max_length=100),
    hidden: bool | None = None,
    after: Identifier | None = Query(None, description="the `next` cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
    q: str | None = Query(
        None,
        max_length=100,
        pattern=r"^[^\x00-\x1f]*$",
        description="item ids starting with it, or titles containing it",
    ),
    total: bool = Query(False, description="also count every item matching the filters"),
    who: Principal = Reader,
) -> Response:
    page = await api.list_items(
        who.tenant_id, category=category, tag=tag, hidden=hidden, after=after, limit=limit, q=q, total=total
    )
    return relayed(page)


@router.get("/{item_id}")
async def get_item(item_id: Identifier, api: Api, who: Principal = Reader) -> Response:
    return relayed(await api.get_item(who.tenant_id, item_id))


@router.put("/{item_id}")
async def upsert_item(item_id: Identifier, body: ItemFields, api: Api, who: Principal = Writer) -> Response:
    return relayed(await api.upsert_item(who.tenant_id, item_id, body))


@router.patch("/{item_id}")
async def update_item(item_id: Identifier, body: ItemFields, api: Api, who: Principal = Writer) -> Response:
    return relayed(await api.update_item(who.tenant_id, item_id, body))


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: Identifier, api: Api, who: Principal = Writer) -> Response:
    return relayed(await api.delete_item(who.tenant_id, item_id))
