"""/v1/events: track behavior events (one, or a batch of up to 1,000) and read per-type stats."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.deps import Api
from apps.gateway.downstream import relayed
from apps.gateway.openapi import TENANT_ERRORS
from lemo.event_counts import MAX_TIMESTAMP
from lemo.events import EventBody, EventType

router = APIRouter(prefix="/v1/events", tags=["events"], responses=TENANT_ERRORS)


class EventBatchBody(BaseModel):
    # Validated one by one below, so one bad event does not reject the others.
    events: list[dict[str, Any]] = Field(min_length=1)


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def track(body: EventBody, api: Api, who: Principal = Writer) -> Response:
    """Accepts one event; 202 once it is on the events topic. Resend with the same `event_id` after an error."""
    return relayed(await api.track_event(who.tenant_id, body))


@router.post("/batch")
async def track_batch(body: EventBatchBody, api: Api, who: Principal = Writer) -> dict[str, Any]:
    """Accepts up to 1,000 events; `results[i]` says what became of `events[i]`."""
    return await api.track_events(who.tenant_id, body.events)


@router.get("/stats")
async def stats(
    api: Api,
    since: float | None = Query(
        None, ge=0, le=MAX_TIMESTAMP, description="unix seconds; default: 24 hours before `until`"
    ),
    until: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description="unix seconds; default: now"),
    type: EventType | None = None,
    who: Principal = Reader,
) -> Response:
    """Events per type in [since, until), from pre-aggregated counts. Minute resolution (the window widened to
    whole minutes) where minute counts are still kept (8 days by default); further back each end of the window is
    widened to the finest resolution kept there: the hour (100 days), the day (3 years), else the month, which is
    kept for good (docs/data-plane.md, Retention)."""
    return relayed(await api.event_stats(who.tenant_id, since, until, type.value if type else None))
