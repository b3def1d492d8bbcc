"""/users: realtime features read from each user's actor."""

from __future__ import annotations

from typing import Any

from dapr.actor import ActorId, ActorProxy
from fastapi import APIRouter

from actors.user_profile import ACTOR_TYPE, UserProfileActorInterface
from lemo.events import Identifier, user_actor_id

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/{tenant_id}/{user_id}/realtime")
async def realtime_features(tenant_id: Identifier, user_id: Identifier) -> dict[str, Any]:
    proxy = ActorProxy.create(
        ACTOR_TYPE, ActorId(user_actor_id(tenant_id, user_id)), UserProfileActorInterface
    )
    profile: dict[str, Any] = await proxy.GetProfile()
    return {"tenant_id": tenant_id, "user_id": user_id, **profile}
