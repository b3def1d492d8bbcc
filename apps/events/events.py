"""/events: validated behavior events go to the events topic; acknowledged only once the broker took them."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Query, status

from apps.events.deps import Counts, PublisherDep
from apps.events.schemas import EventBatch
from apps.shared.errors import ApiError
from apps.shared.observability import EVENTS
from apps.shared.publish import Entry, Publisher
from apps.shared.settings import EVENTS_TOPIC
from lemo.event_counts import MAX_TIMESTAMP
from lemo.events import FUTURE_SKEW_S, Event, EventType, Identifier

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/events", tags=["events"])


class AcceptClock:
    """Acceptance stamps: this process's clock, strictly increasing even for a thousand events within one tick.
    They order a user's events for the realtime profile's dedupe (lemo/realtime/dedupe.py); a redelivery carries
    the stamp its first delivery had."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self) -> float:
        self._last = max(time.time(), self._last + 1e-6)
        return self._last


_accepted = AcceptClock()


def _on_topic(event: Event) -> dict[str, Any]:
    data = event.model_dump(mode="json")
    data["accepted_at"] = _accepted()
    return data


def _routing(event: Event) -> dict[str, str]:
    # Kafka keeps one user's events in order on one partition; Redis streams ignore it.
    return {"partitionKey": event.actor_id}


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def track(event: Event, publisher: PublisherDep) -> dict[str, Any]:
    try:
        await publisher.publish(EVENTS_TOPIC, _on_topic(event), _routing(event))
    except Exception as exc:
        EVENTS.labels("publish_failed").inc()
        logger.warning("publish of %s failed: %s", event.event_id, exc, extra={"tenant_id": event.tenant_id})
        raise ApiError(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "publish_failed",
            "event not accepted; safe to retry with the same event_id",
            event_id=event.event_id,
        ) from exc
    EVENTS.labels("accepted").inc()
    return {"event_id": event.event_id, "status": "accepted"}


@router.post("/_batch")
async def track_batch(batch: EventBatch, publisher: PublisherDep) -> dict[str, Any]:
    """Publishes up to 1,000 events in one bulk call; each gets its own result."""
    failed = await publish_events(publisher, batch.events)
    results = [
        {"event_id": e.event_id, "status": "rejected", "error": {"code": "publish_failed", "message": failed[str(i)]}}
        if str(i) in failed
        else {"event_id": e.event_id, "status": "accepted"}
        for i, e in enumerate(batch.events)
    ]
    EVENTS.labels("accepted").inc(len(batch.events) - len(failed))
    EVENTS.labels("publish_failed").inc(len(failed))
    return {"accepted": len(batch.events) - len(failed), "rejected": len(failed), "results": results}


async def publish_events(publisher: Publisher, events: Sequence[Event]) -> dict[str, str]:
    """Stamps and publishes validated events onto the events topic in one bulk call (the batch API and the ingest
    topics); returns {str(index): error} for those the broker did not take."""
    entries = [Entry(str(i), _on_topic(e), _routing(e)) for i, e in enumerate(events)]
    try:
        return await publisher.publish_bulk(EVENTS_TOPIC, entries)
    except Exception as exc:
        logger.warning("bulk publish of %d events failed: %s", len(entries), exc)
        return {e.entry_id: "publish failed" for e in entries}


@router.get("/{tenant_id}/stats")
async def stats(
    tenant_id: Identifier,
    store: Counts,
    since: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description="unix seconds; default: 24 hours ago"),
    until: float | None = Query(None, ge=0, le=MAX_TIMESTAMP, description="unix seconds; default: now"),
    type: EventType | None = None,
) -> dict[str, Any]:
    """Events per type in [since, until) (unix seconds, minute resolution where minute counts are kept, else each
    end widened to the finest resolution kept there), from counts the archive consumer keeps as it archives each
    event once: a few documents whatever the window or the archive's size."""
    now = time.time()
    until = until if until is not None else now
    since = since if since is not None else until - 86400
    if since >= until:
        raise ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_window", "since must be before until")
    # No event is later than the events app accepts (a few minutes ahead): a window reaching further ends there.
    counts = (
        await store.window(tenant_id, since, min(until, now + FUTURE_SKEW_S)) if since < now + FUTURE_SKEW_S else {}
    )
    if type is not None:
        counts = {type.value: counts.get(type.value, 0)}
    return {"tenant_id": tenant_id, "since": since, "until": until, "counts": counts, "total": sum(counts.values())}
