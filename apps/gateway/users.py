"""/v1/users: the tenant's users (profiles app) and their realtime features (per-user actors)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.deps import Api
from apps.gateway.downstream import ndjson_body, relayed
from apps.gateway.openapi import TENANT_ERRORS, ndjson_request_body
from apps.shared.errors import error_responses
from lemo.events import Identifier
from lemo.users import BatchGet, User, UserFields

router = APIRouter(prefix="/v1/users", tags=["users"], responses=TENANT_ERRORS)


@router.get("")
async def list_users(
    api: Api,
    q: Identifier | None = Query(None, description="user ids starting with it"),
    after: Identifier | None = Query(None, description="the `next` cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
    total: bool = Query(False, description="also count every user matching `q`"),
    who: Principal = Reader,
) -> Response:
    return relayed(await api.list_users(who.tenant_id, q=q, after=after, limit=limit, total=total))


@router.post("/batch-get")
async def batch_get_users(body: BatchGet, api: Api, who: Principal = Reader) -> Response:
    return relayed(await api.batch_get_users(who.tenant_id, body))


@router.post("/batch", openapi_extra=ndjson_request_body(User), responses=error_responses(415))
async def batch_upsert_users(request: Request, api: Api, who: Principal = Writer) -> Response:
    """Upserts users from an NDJSON body (one `{"user_id", "attributes"}` per line)."""
    return relayed(await api.batch_upsert_users(who.tenant_id, ndjson_body(request)))


@router.put("/{user_id}")
async def upsert_user(user_id: Identifier, body: UserFields, api: Api, who: Principal = Writer) -> Response:
    return relayed(await api.upsert_user(who.tenant_id, user_id, body))


@router.patch("/{user_id}")
async def update_user(user_id: Identifier, body: UserFields, api: Api, who: Principal = Writer) -> Response:
    return relayed(await api.update_user(who.tenant_id, user_id, body))


@router.get("/{user_id}")
async def get_user(user_id: Identifier, api: Api, who: Principal = Reader) -> Response:
    return relayed(await api.get_user(who.tenant_id, user_id))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: Identifier, api: Api, who: Principal = Writer) -> Response:
    return relayed(await api.delete_user(who.tenant_id, user_id))


@router.get("/{user_id}/activity")
async def activity(
    user_id: Identifier, api: Api, limit: int = Query(20, ge=1, le=200), who: Principal = Reader
) -> Response:
    """The user's latest archived events and the lists served to them (exposure records), newest first."""
    return relayed(await api.user_activity(who.tenant_id, user_id, limit))


@router.get("/{user_id}/realtime")
async def realtime_features(user_id: Identifier, api: Api, who: Principal = Reader) -> Response:
    """The user's realtime profile: recent items, windowed and long-term interests, counts per type."""
    return relayed(await api.realtime_features(who.tenant_id, user_id))
