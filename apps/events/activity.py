"""/activity/{tenant_id}/{user_id}: what one user did and was shown, from the archives (the operator console's
user view): their latest events and the lists served to them, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from apps.events.deps import ActivityDep
from lemo.events import Identifier

router = APIRouter(prefix="/activity", tags=["activity"])


@router.get("/{tenant_id}/{user_id}")
async def user_activity(
    tenant_id: Identifier, user_id: Identifier, activity: ActivityDep, limit: int = Query(20, ge=1, le=200)
) -> dict[str, Any]:
    return await activity.of_user(tenant_id, user_id, limit)
