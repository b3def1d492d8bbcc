"""The events app's operations, for its routes and its consumers alike: the intake (validated events stamped and
published onto the events topic), the event counts, a user's activity from the archives, and the ingest topics'
rejections."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import status

from apps.events.counts import SidecarEventCounts
from apps.shared.errors import ApiError
from apps.shared.observability import EVENTS
from apps.shared.publish import Entry, Publisher
from apps.shared.settings import EVENTS_TOPIC
from lemo.events import FUTURE_SKEW_S, Event, EventType
from lemo.ingest import IngestKind
from lemo.stores.ports import EventHistory, ExposureHistory, IngestReport

logger = logging.getLogger(__name__)


class AcceptClock:
    """Acceptance stamps: this process's clock, strictly increasing even for a thousand events within one tick.
    They order a user's events for the realtime profile's dedupe (lemo/realtime/dedupe.py); a redelivery carries
    the stamp its first delivery had."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self) -> float:
        self._last = max(time.time(), self._last + 1e-6)
        return self._last


def _routing(event: Event) -> dict[str, str]:
    # Kafka keeps one user's events in order on one partition; Redis streams ignore it.
    return {"partitionKey": event.actor_id}


class Intake:
    """Validated events onto the events topic, acknowledged only once the broker took them."""

    def __init__(self, publisher: Publisher, clock: AcceptClock | None = None) -> None:
        self._publisher = publisher
        self._accepted = clock or AcceptClock()

    def _on_topic(self, event: Event) -> Event:
        # Stamped on a copy: the message published is the typed event itself, encoded once (apps/shared/publish.py).
        return event.model_copy(update={"accepted_at": self._accepted()})

    async def track(self, event: Event) -> dict[str, Any]:
        """One event; 503 `publish_failed` when the broker did not take it (safe to retry with the same id)."""
        try:
            await self._publisher.publish(EVENTS_TOPIC, self._on_topic(event), _routing(event))
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

    async def track_batch(self, events: Sequence[Event]) -> dict[str, Any]:
        """Publishes the events in one bulk call; each gets its own result."""
        failed = await self.publish(events)
        results = [
            {
                "event_id": e.event_id,
                "status": "rejected",
                "error": {"code": "publish_failed", "message": failed[str(i)]},
            }
            if str(i) in failed
            else {"event_id": e.event_id, "status": "accepted"}
            for i, e in enumerate(events)
        ]
        EVENTS.labels("accepted").inc(len(events) - len(failed))
        EVENTS.labels("publish_failed").inc(len(failed))
        return {"accepted": len(events) - len(failed), "rejected": len(failed), "results": results}

    async def publish(self, events: Sequence[Event]) -> dict[str, str]:
        """Stamps and publishes validated events onto the events topic in one bulk call (the batch API and the
        ingest topics); returns {str(index): error} for those the broker did not take."""
        entries = [Entry(str(i), self._on_topic(e), _routing(e)) for i, e in enumerate(events)]
        try:
            return await self._publisher.publish_bulk(EVENTS_TOPIC, entries)
        except Exception as exc:
            logger.warning("bulk publish of %d events failed: %s", len(entries), exc)
            return {e.entry_id: "publish failed" for e in entries}


class EventStats:
    """Events per type over a window, from the counts the archive consumer keeps."""

    def __init__(self, counts: SidecarEventCounts) -> None:
        self._counts = counts

    async def window(
        self, tenant_id: str, since: float | None, until: float | None, type: EventType | None
    ) -> dict[str, Any]:
        """Events per type in [since, until) (default: the last 24 hours); 422 `invalid_window` when empty."""
        now = time.time()
        until = until if until is not None else now
        since = since if since is not None else until - 86400
        if since >= until:
            raise ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_window", "since must be before until")
        # No event is later than the events app accepts (a few minutes ahead): a window reaching further ends there.
        readable_until = now + FUTURE_SKEW_S
        counts = (
            await self._counts.window(tenant_id, since, min(until, readable_until)) if since < readable_until else {}
        )
        if type is not None:
            counts = {type.value: counts.get(type.value, 0)}
        return {"tenant_id": tenant_id, "since": since, "until": until, "counts": counts, "total": sum(counts.values())}


class Activity:
    """What one user did and was shown, from the event and exposure archives."""

    def __init__(self, archive: EventHistory, exposures: ExposureHistory) -> None:
        self._archive = archive
        self._exposures = exposures

    async def of_user(self, tenant_id: str, user_id: str, limit: int) -> dict[str, Any]:
        """Their latest `limit` events and served lists, newest first."""
        events = await self._archive.recent_for_user(tenant_id, user_id, limit)
        shown = await self._exposures.recent_for_user(tenant_id, user_id, limit)
        return {"user_id": user_id, "events": events, "exposures": [e.model_dump(mode="json") for e in shown]}


class IngestErrors:
    """The ingest topics' rejections, as the ingest consumer records them."""

    def __init__(self, log: IngestReport) -> None:
        self._log = log

    async def report(self, tenant_id: str, limit: int, kind: IngestKind | None) -> dict[str, Any]:
        """The tenant's recent rejections, newest first, with the counts per kind."""
        return {
            "tenant_id": tenant_id,
            "counts": await self._log.counts(tenant_id),
            "errors": await self._log.errors(tenant_id, limit, kind),
        }
