"""/deadletters: what the events subscription gave up on, listed and put back on the events topic once fixed.

An event reaches the dead letter when the profiles consumer answers DROP (it does not parse) or when every
redelivery the Resiliency policy allows has failed (components/resiliency.yaml). Replaying publishes the kept
events to the events topic again, in bulk, and forgets those the broker took; their consumers are idempotent (the
archive keys on tenant + event_id, the user actor remembers event ids), so a replay never counts an event twice.
An event that still does not parse comes back here with a new dead letter.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from apps.profiles.deps import DeadLettersDep
from lemo.events import Identifier

router = APIRouter(prefix="/deadletters", tags=["dead letters"])

MAX_REPLAY = 1000


@router.get("")
async def list_dead_letters(
    dead_letters: DeadLettersDep,
    tenant_id: Identifier | None = None,
    limit: int = Query(20, ge=0, le=MAX_REPLAY),
) -> dict[str, Any]:
    """How many dead letters are kept (for one tenant, or all) and the oldest `limit` of them."""
    return await dead_letters.oldest(tenant_id, limit)


@router.post("/replay")
async def replay_dead_letters(
    dead_letters: DeadLettersDep,
    tenant_id: Identifier | None = None,
    limit: int = Query(MAX_REPLAY, ge=1, le=MAX_REPLAY),
) -> dict[str, Any]:
    """Publishes the oldest `limit` dead letters to the events topic again and forgets those the broker took."""
    return await dead_letters.replay(tenant_id, limit)
