"""/users/{tenant_id}: user documents (MongoDB) and realtime features (the user's actor)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request, status

from actors.user_profile import ACTOR_TYPE, UserProfileActorInterface
from apps.profiles.deps import Attributes, Users
from apps.profiles.schemas import BatchGet, User, UserFields
from apps.shared.actor_client import actor_proxy
from apps.shared.errors import ApiError
from apps.shared.ndjson import BatchReport, ndjson_models
from lemo.events import Identifier, user_actor_id

router = APIRouter(prefix="/users", tags=["users"])

MAX_LINE_BYTES = 16 * 1024


def _actor(tenant_id: str, user_id: str) -> Any:
    return actor_proxy(ACTOR_TYPE, user_actor_id(tenant_id, user_id), UserProfileActorInterface)


def _not_found(user_id: str) -> ApiError:
    return ApiError(status.HTTP_404_NOT_FOUND, "user_not_found", f"no user {user_id}", user_id=user_id)


@router.get("/{tenant_id}")
async def list_users(
    tenant_id: Identifier,
    users: Users,
    q: Identifier | None = Query(None, description="user ids starting with it"),
    after: Identifier | None = None,
    limit: int = Query(100, ge=1, le=1000),
    total: bool = False,
) -> dict[str, Any]:
    page = await users.list(tenant_id, prefix=q, after=after, limit=limit)
    body: dict[str, Any] = {"users": page, "next": page[-1]["user_id"] if len(page) == limit else None}
    if total:
        body["total"] = await users.count(tenant_id, prefix=q)
    return body


@router.put("/{tenant_id}/{user_id}")
async def upsert_user(
    tenant_id: Identifier, user_id: Identifier, body: UserFields, users: Users, attributes: Attributes
) -> dict[str, Any]:
    """Creates the user or merges the given attributes into it."""
    user = await users.upsert(tenant_id, user_id, body.attributes)
    attributes.forget(tenant_id, user_id)  # after the write: a read in between cannot keep the old ones
    return user


@router.patch("/{tenant_id}/{user_id}")
async def update_user(
    tenant_id: Identifier, user_id: Identifier, body: UserFields, users: Users, attributes: Attributes
) -> dict[str, Any]:
    if await users.get(tenant_id, user_id) is None:
        raise _not_found(user_id)
    user = await users.upsert(tenant_id, user_id, body.attributes)
    attributes.forget(tenant_id, user_id)
    return user


@router.get("/{tenant_id}/{user_id}")
async def get_user(tenant_id: Identifier, user_id: Identifier, users: Users) -> dict[str, Any]:
    user = await users.get(tenant_id, user_id)
    if user is None:
        raise _not_found(user_id)
    return user


@router.delete("/{tenant_id}/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(tenant_id: Identifier, user_id: Identifier, users: Users, attributes: Attributes) -> None:
    if not await users.delete(tenant_id, user_id):
        raise _not_found(user_id)
    attributes.forget(tenant_id, user_id)
    await _actor(tenant_id, user_id).Forget()


@router.post("/{tenant_id}/_batch_get")
async def batch_get(tenant_id: Identifier, body: BatchGet, users: Users) -> dict[str, Any]:
    found = {u["user_id"]: u for u in await users.get_many(tenant_id, body.user_ids)}
    return {
        "users": [found[u] for u in body.user_ids if u in found],
        "missing": [u for u in body.user_ids if u not in found],
    }


@router.post("/{tenant_id}/_batch")
async def batch_upsert(tenant_id: Identifier, request: Request, users: Users, attributes: Attributes) -> dict[str, Any]:
    """Upserts users from an NDJSON body, one user per line; bad lines are reported, good ones kept."""
    report = BatchReport()
    async for user in ndjson_models(request.stream(), User, MAX_LINE_BYTES, report):
        await users.upsert(tenant_id, user.user_id, user.attributes)
        attributes.forget(tenant_id, user.user_id)
        report.accepted += 1
    return report.as_dict()


@router.get("/{tenant_id}/{user_id}/realtime")
async def realtime_features(tenant_id: Identifier, user_id: Identifier) -> dict[str, Any]:
    profile: dict[str, Any] = await _actor(tenant_id, user_id).GetProfile()
    return {"tenant_id": tenant_id, "user_id": user_id, **profile}


@router.get("/{tenant_id}/{user_id}/context")
async def recommendation_context(tenant_id: Identifier, user_id: Identifier, attributes: Attributes) -> dict[str, Any]:
    """What the read path needs about a user in one call: realtime features (actor) and stored attributes
    (MongoDB, kept a short while: apps/profiles/attributes.py), fetched concurrently. An unknown user gets empty
    ones (a new user still gets recommendations)."""
    profile, attributes = await asyncio.gather(
        _actor(tenant_id, user_id).GetProfile(), attributes.attributes(tenant_id, user_id)
    )
    return {
        "user_id": user_id,
        "recent_items": profile.get("recent_items", []),
        "interests": profile.get("interests", {}),
        "shown_items": profile.get("shown_items", []),  # recently served lists, newest first (exclude-seen, fatigue)
        "attributes": attributes,
    }
