"""The archive's own consumers of the events and exposures topics: training data arrives as fast as the store
takes it.

Each is a separate subscription (consumer group: this app) from the profiles app's, so the archive never waits
for the per-user actors and a slow actor never holds back the data the trainer learns from. Batches are large
(one insert per delivery); a redelivery is a no-op (events key on tenant + event_id, exposures on tenant +
request_id).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from pydantic import BaseModel

from apps.events.counts import SidecarEventCounts
from apps.events.deps import Archive, Counts, Exposures
from apps.events.settings import EventsSettings
from apps.shared.settings import EVENTS_TOPIC, EXPOSURES_TOPIC
from apps.shared.subscriptions import Subscriptions, bulk_messages, bulk_reply
from lemo.events import Event
from lemo.exposures import Exposure
from lemo.stores.ports import EventSink, ExposureSink

logger = logging.getLogger(__name__)

Record = TypeVar("Record", bound=BaseModel)


async def _archive_entries(
    raw: bytes, schema: type[Record], store: Callable[[Sequence[Record]], Awaitable[Any]]
) -> dict[str, Any]:
    """SUCCESS for archived entries, RETRY for all when the store fails. A malformed entry is acknowledged and
    logged here: the profiles app's subscription sends the same message to the dead-letter topic."""
    records, malformed = bulk_messages(raw, schema)
    statuses = dict.fromkeys(malformed, "SUCCESS")
    if malformed:
        logger.warning("not archiving %d malformed %ss: %s", len(malformed), schema.__name__, malformed[:3])
    try:
        await store([r for _, r in records])
        statuses.update(dict.fromkeys((entry_id for entry_id, _ in records), "SUCCESS"))
    except Exception:
        logger.exception("archive write of %d %ss failed; asking for redelivery", len(records), schema.__name__)
        statuses.update(dict.fromkeys((entry_id for entry_id, _ in records), "RETRY"))
    return bulk_reply(statuses)


async def archive_bulk(raw: bytes, archive: EventSink, counts: SidecarEventCounts) -> dict[str, Any]:
    """A bulk delivery of the events topic, archived in one insert, then counted by type (`/events/stats` reads the
    counts) and, where an event follows a served list, for that list's variant (docs/experiments.md).
    Only events archived for the first time are counted, so a redelivery never counts twice; when counting fails,
    they leave the archive again and the delivery is retried, so nothing is left uncounted either."""

    async def archive_and_count(events: Sequence[Event]) -> None:
        new = await archive.append_many(events)
        try:
            await counts.add(new)
        except Exception:
            await archive.forget(new)
            raise

    return await _archive_entries(raw, Event, archive_and_count)


async def archive_exposures_bulk(raw: bytes, exposures: ExposureSink, counts: SidecarEventCounts) -> dict[str, Any]:
    """A bulk delivery of the exposures topic (one record per served list), archived in one insert, then counted
    per scenario and variant with an attribution entry each (docs/experiments.md), under the same rule as events:
    only lists archived for the first time, and those leave the archive again when counting fails."""

    async def archive_and_count(lists: Sequence[Exposure]) -> None:
        new = await exposures.append_many(lists)
        try:
            await counts.add_exposures(new)
        except Exception:
            await exposures.forget(new)
            raise

    return await _archive_entries(raw, Exposure, archive_and_count)


def subscribe(app: FastAPI, settings: EventsSettings) -> None:
    async def on_events(archive: Archive, counts: Counts, request: Request) -> dict[str, Any]:
        return await archive_bulk(await request.body(), archive, counts)

    async def on_exposures(exposures: Exposures, counts: Counts, request: Request) -> dict[str, Any]:
        return await archive_exposures_bulk(await request.body(), exposures, counts)

    subscriptions = Subscriptions(app)
    for topic, handler in ((EVENTS_TOPIC, on_events), (EXPOSURES_TOPIC, on_exposures)):
        subscriptions.add(
            settings.pubsub_name,
            topic,
            handler,
            bulk_max_messages=settings.archive_bulk_max_messages,
            bulk_max_await_ms=settings.archive_bulk_max_await_ms,
        )
