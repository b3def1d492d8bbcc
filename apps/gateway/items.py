"""/v1/items: the tenant's catalog (served by the catalog app)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.downstream import Downstream
from lemo.catalog import Item, ItemFields
from lemo.events import Identifier

router = APIRouter(prefix="/v1/items", tags=["items"])


def _catalog(request: Request) -> tuple[Downstream, str]:
    return request.app.state.downstream, request.app.state.settings.catalog_app


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_item(body: Item, request: Request, who: Principal = Writer) -> Response:
    down, app_id = _catalog(request)
    return await down.relay(
        app_id, "POST", f"items/{who.tenant_id}", json=body.model_dump(mode="json", exclude_unset=True)
    )


@router.post("/batch")
async def batch_upsert_items(request: Request, who: Principal = Writer) -> Response:
    """Upserts items from an NDJSON body (`Content-Type: application/x-ndjson`, one item per line), streamed
    through to the catalog without being held in memory; answers how many were accepted and which lines failed."""
    down, app_id = _catalog(request)
    return await down.relay_ndjson(request, app_id, f"items/{who.tenant_id}/_batch")


@router.get("")
async def list_items(
    request: Request,
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
    down, app_id = _catalog(request)
    params = {"category": category, "tag": tag, "hidden": hidden, "after": after, "limit": limit, "q": q}
    params["total"] = "true" if total else None
    return await down.relay(app_id, "GET", f"items/{who.tenant_id}", params=params)


@router.get("/{item_id}")
async def get_item(item_id: Identifier, request: Request, who: Principal = Reader) -> Response:
    down, app_id = _catalog(request)
    return await down.relay(app_id, "GET", f"items/{who.tenant_id}/{item_id}")


@router.put("/{item_id}")
async def upsert_item(item_id: Identifier, body: ItemFields, request: Request, who: Principal = Writer) -> Response:
    down, app_id = _catalog(request)
    return await down.relay(
        app_id, "PUT", f"items/{who.tenant_id}/{item_id}", json=body.model_dump(mode="json", exclude_unset=True)
    )


@router.patch("/{item_id}")
async def update_item(item_id: Identifier, body: ItemFields, request: Request, who: Principal = Writer) -> Response:
    down, app_id = _catalog(request)
    return await down.relay(
        app_id, "PATCH", f"items/{who.tenant_id}/{item_id}", json=body.model_dump(mode="json", exclude_unset=True)
    )


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: Identifier, request: Request, who: Principal = Writer) -> Response:
    down, app_id = _catalog(request)
    return await down.relay(app_id, "DELETE", f"items/{who.tenant_id}/{item_id}")
