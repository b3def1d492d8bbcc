"""/v1/users: the tenant's users (profiles app) and their realtime features (per-user actors)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.downstream import Downstream
from lemo.events import Identifier
from lemo.users import BatchGet, UserFields

router = APIRouter(prefix="/v1/users", tags=["users"])


def _profiles(request: Request) -> tuple[Downstream, str]:
    return request.app.state.downstream, request.app.state.settings.profiles_app


@router.get("")
async def list_users(
    request: Request,
    q: Identifier | None = Query(None, description="user ids starting with it"),
    after: Identifier | None = Query(None, description="the `next` cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
    total: bool = Query(False, description="also count every user matching `q`"),
    who: Principal = Reader,
) -> Response:
    down, app_id = _profiles(request)
    params = {"q": q, "after": after, "limit": limit, "total": "true" if total else None}
    return await down.relay(app_id, "GET", f"users/{who.tenant_id}", params=params)


@router.post("/batch-get")
async def batch_get_users(body: BatchGet, request: Request, who: Principal = Reader) -> Response:
    down, app_id = _profiles(request)
    return await down.relay(app_id, "POST", f"users/{who.tenant_id}/_batch_get", json=body.model_dump())


@router.post("/batch")
async def batch_upsert_users(request: Request, who: Principal = Writer) -> Response:
    """Upserts users from an NDJSON body (one `{"user_id", "attributes"}` per line)."""
    down, app_id = _profiles(request)
    return await down.relay_ndjson(request, app_id, f"users/{who.tenant_id}/_batch")


@router.put("/{user_id}")
async def upsert_user(user_id: Identifier, body: UserFields, request: Request, who: Principal = Writer) -> Response:
    down, app_id = _profiles(request)
    return await down.relay(app_id, "PUT", f"users/{who.tenant_id}/{user_id}", json=body.model_dump(mode="json"))


@router.patch("/{user_id}")
async def update_user(user_id: Identifier, body: UserFields, request: Request, who: Principal = Writer) -> Response:
    down, app_id = _profiles(request)
    return await down.relay(app_id, "PATCH", f"users/{who.tenant_id}/{user_id}", json=body.model_dump(mode="json"))


@router.get("/{user_id}")
async def get_user(user_id: Identifier, request: Request, who: Principal = Reader) -> Response:
    down, app_id = _profiles(request)
    return await down.relay(app_id, "GET", f"users/{who.tenant_id}/{user_id}")


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: Identifier, request: Request, who: Principal = Writer) -> Response:
    down, app_id = _profiles(request)
    return await down.relay(app_id, "DELETE", f"users/{who.tenant_id}/{user_id}")


@router.get("/{user_id}/activity")
async def activity(
    user_id: Identifier, request: Request, limit: int = Query(20, ge=1, le=200), who: Principal = Reader
) -> Response:
    """The user's latest archived events and the lists served to them (exposure records), newest first."""
    down: Downstream = request.app.state.downstream
    app_id = request.app.state.settings.events_app
    return await down.relay(app_id, "GET", f"activity/{who.tenant_id}/{user_id}", params={"limit": limit})


@router.get("/{user_id}/realtime")
async def realtime_features(user_id: Identifier, request: Request, who: Principal = Reader) -> Response:
    """The user's realtime profile: recent items, windowed and long-term interests, counts per type."""
    down, app_id = _profiles(request)
    return await down.relay(app_id, "GET", f"users/{who.tenant_id}/{user_id}/realtime")
