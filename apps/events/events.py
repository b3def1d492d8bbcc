"""/events: validated behavior events go to the events topic; acknowledged only once the broker took them (the
intake is apps/events/service.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status

from apps.events.deps import IntakeDep, StatsDep
from apps.events.schemas import EventBatch
from lemo.event_counts import MAX_TIMESTAMP
from lemo.events import Event, EventType, Identifier

router = APIRouter(prefix="/events", tags=["events"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def track(event: Event, intake: IntakeDep) -> dict[str, Any]:
    return await intake.track(event)


@router.post("/_batch")
async def track_batch(batch: EventBatch, intake: IntakeDep) -> dict[str, Any]:
    """Publishes up to 1,000 events in one bulk call; each gets its own result."""
    return await intake.track_batch(batch.events)


@router.get("/{tenant_id}/stats")
async def stats(
    tenant_id: Identifier,
    event_stats: StatsDep,
    since: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description="unix seconds; default: 24 hours ago"),
    until: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description="unix seconds; default: now"),
    type: EventType | None = None,
) -> dict[str, Any]:
    """Events per type in [since, until) (unix seconds, minute resolution where minute counts are kept, else each
    end widened to the finest resolution kept there), from counts the archive consumer keeps as it archives each
    event once: a few documents whatever the window or the archive's size."""
    return await event_stats.window(tenant_id, since, until, type)
