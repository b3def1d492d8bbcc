"""The event archive's own consumer of the events topic: training data arrives as fast as the store takes it.

It is a separate subscription (consumer group: this app) from the profiles app's, so the archive never waits
for the per-user actors and a slow actor never holds back the data the trainer learns from. Batches are large
(one insert per delivery); a redelivered event is a no-op (the archive keys on tenant + event_id).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Body, FastAPI
from pydantic import ValidationError

from apps.events.settings import EventsSettings
from apps.shared.settings import EVENTS_TOPIC
from apps.shared.subscriptions import Subscriptions
from lemo.events import Event
from lemo.stores.mongo import EventArchive

logger = logging.getLogger(__name__)


async def archive_bulk(body: dict[str, Any], archive: EventArchive) -> dict[str, Any]:
    """SUCCESS for archived entries, RETRY for all when the store fails. A malformed entry is acknowledged and
    logged here: the profiles app's subscription sends the same message to the dead-letter topic."""
    statuses: dict[str, str] = {}
    events: list[tuple[str, Event]] = []
    for entry in body.get("entries") or []:
        entry_id = str(entry.get("entryId"))
        cloud_event = entry.get("event")
        data = cloud_event.get("data") if isinstance(cloud_event, dict) else None
        try:
            events.append((entry_id, Event.model_validate(data)))
        except ValidationError:
            logger.warning("not archiving malformed event %s (dead-lettered by the profiles consumer)", entry_id)
            statuses[entry_id] = "SUCCESS"
    try:
        await archive.append_many([e for _, e in events])
        statuses.update(dict.fromkeys((entry_id for entry_id, _ in events), "SUCCESS"))
    except Exception:
        logger.exception("archive write of %d events failed; asking for redelivery", len(events))
        statuses.update(dict.fromkeys((entry_id for entry_id, _ in events), "RETRY"))
    return {"statuses": [{"entryId": k, "status": v} for k, v in statuses.items()]}


def subscribe(app: FastAPI, archive: EventArchive, settings: EventsSettings) -> None:
    async def on_events(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        return await archive_bulk(body, archive)

    Subscriptions(app).add(
        settings.pubsub_name,
        EVENTS_TOPIC,
        on_events,
        bulk_max_messages=settings.archive_bulk_max_messages,
        bulk_max_await_ms=settings.archive_bulk_max_await_ms,
    )
