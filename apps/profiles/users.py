"""/users/{tenant_id}: user documents (MongoDB) and realtime features (the user's actor)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status

from apps.profiles.deps import ProfilesDep
from apps.profiles.schemas import BatchGet, User, UserFields
from apps.shared.ndjson import BatchReport, ndjson_models
from lemo.events import Identifier

router = APIRouter(prefix="/users", tags=["users"])

MAX_LINE_BYTES = 16 * 1024


@router.get("/{tenant_id}")
async def list_users(
    tenant_id: Identifier,
    profiles: ProfilesDep,
    q: Identifier | None = Query(None, description="user ids starting with it"),
    after: Identifier | None = None,
    limit: int = Query(100, ge=1, le=1000),
    total: bool = False,
) -> dict[str, Any]:
    return await profiles.page(tenant_id, q, after, limit, total)


@router.put("/{tenant_id}/{user_id}")
async def upsert_user(
    tenant_id: Identifier, user_id: Identifier, body: UserFields, profiles: ProfilesDep
) -> dict[str, Any]:
    """Creates the user or merges the given attributes into it."""
    return await profiles.upsert(tenant_id, user_id, body.attributes)


@router.patch("/{tenant_id}/{user_id}")
async def update_user(
    tenant_id: Identifier, user_id: Identifier, body: UserFields, profiles: ProfilesDep
) -> dict[str, Any]:
    return await profiles.update(tenant_id, user_id, body.attributes)


@router.get("/{tenant_id}/{user_id}")
async def get_user(tenant_id: Identifier, user_id: Identifier, profiles: ProfilesDep) -> dict[str, Any]:
    return await profiles.get(tenant_id, user_id)


@router.delete("/{tenant_id}/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(tenant_id: Identifier, user_id: Identifier, profiles: ProfilesDep) -> None:
    await profiles.delete(tenant_id, user_id)


@router.post("/{tenant_id}/_batch_get")
async def batch_get(tenant_id: Identifier, body: BatchGet, profiles: ProfilesDep) -> dict[str, Any]:
    return await profiles.get_many(tenant_id, body.user_ids)


@router.post("/{tenant_id}/_batch")
async def batch_upsert(tenant_id: Identifier, request: Request, profiles: ProfilesDep) -> dict[str, Any]:
    """Upserts users from an NDJSON body, one user per line; bad lines are reported, good ones kept."""
    report = BatchReport()
    async for user in ndjson_models(request.stream(), User, MAX_LINE_BYTES, report):
        await profiles.upsert(tenant_id, user.user_id, user.attributes)
        report.accepted += 1
    return report.as_dict()


@router.get("/{tenant_id}/{user_id}/realtime")
async def realtime_features(tenant_id: Identifier, user_id: Identifier, profiles: ProfilesDep) -> dict[str, Any]:
    return await profiles.realtime(tenant_id, user_id)


@router.get("/{tenant_id}/{user_id}/context")
async def recommendation_context(tenant_id: Identifier, user_id: Identifier, profiles: ProfilesDep) -> dict[str, Any]:
    """What the read path needs about a user in one call: realtime features (actor) and stored attributes
    (MongoDB, kept a short while: apps/profiles/attributes.py), fetched concurrently. An unknown user gets empty
    ones (a new user still gets recommendations)."""
    return await profiles.context(tenant_id, user_id)
