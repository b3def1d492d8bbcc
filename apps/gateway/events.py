"""/v1/events: track behavior events (one, or a batch of up to 1,000) and read per-type stats."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, ValidationError

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.downstream import Downstream
from apps.shared.errors import ApiError
from apps.shared.observability import EVENTS
from lemo.event_counts import MAX_TIMESTAMP
from lemo.events import Event, EventBody, EventType, event_for_tenant

router = APIRouter(prefix="/v1/events", tags=["events"])

MAX_BATCH = 1000


class EventBatchBody(BaseModel):
    # Validated one by one below, so one bad event does not reject the others.
    events: list[dict[str, Any]] = Field(min_length=1)


def _events(request: Request) -> tuple[Downstream, str]:
    return request.app.state.downstream, request.app.state.settings.events_app


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def track(body: EventBody, request: Request, who: Principal = Writer) -> Response:
    """Accepts one event; 202 once it is on the events topic. Resend with the same `event_id` after an error."""
    event = Event(tenant_id=who.tenant_id, **body.model_dump())
    down, app_id = _events(request)
    return await down.relay(app_id, "POST", "events", json=event.model_dump(mode="json"))


async def track_many(down: Downstream, events_app: str, tenant_id: str, raw_events: list[Any]) -> dict[str, Any]:
    """Validates each event on its own, publishes the valid ones in one call; `results[i]` is about event i.
    Shared by the HTTP and gRPC APIs."""
    if len(raw_events) > MAX_BATCH:
        raise ApiError(
            status.HTTP_413_CONTENT_TOO_LARGE,
            "batch_too_large",
            f"at most {MAX_BATCH} events per batch",
            limit=MAX_BATCH,
            received=len(raw_events),
        )
    results: list[dict[str, Any] | None] = [None] * len(raw_events)
    valid: list[tuple[int, Event]] = []
    for i, raw in enumerate(raw_events):
        try:
            valid.append((i, event_for_tenant(tenant_id, raw)))
        except (ValidationError, TypeError) as exc:
            errors = exc.errors(include_url=False, include_input=False) if isinstance(exc, ValidationError) else []
            results[i] = {
                "event_id": raw.get("event_id") if isinstance(raw, dict) else None,
                "status": "rejected",
                "error": {"code": "invalid_event", "message": str(exc).splitlines()[0], "errors": errors},
            }
    if valid:
        resp = await down.call(
            events_app, "POST", "events/_batch", json={"events": [e.model_dump(mode="json") for _, e in valid]}
        )
        if resp.status_code != 200:
            raise ApiError(resp.status_code, "publish_failed", resp.text[:300])
        for (i, _), result in zip(valid, resp.json()["results"], strict=True):
            results[i] = result
    accepted = sum(1 for r in results if r and r["status"] == "accepted")
    EVENTS.labels("invalid").inc(len(raw_events) - len(valid))
    return {"accepted": accepted, "rejected": len(results) - accepted, "results": results}


@router.post("/batch")
async def track_batch(body: EventBatchBody, request: Request, who: Principal = Writer) -> dict[str, Any]:
    """Accepts up to 1,000 events; `results[i]` says what became of `events[i]`."""
    down, app_id = _events(request)
    return await track_many(down, app_id, who.tenant_id, body.events)


@router.get("/stats")
async def stats(
    request: Request,
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
    down, app_id = _events(request)
    return await down.relay(
        app_id,
        "GET",
        f"events/{who.tenant_id}/stats",
        params={"since": since, "until": until, "type": type.value if type else None},
    )
