"""The profiles app's pub/sub subscriptions: events (in bulk), their dead letters, served lists (exposures, in
bulk) and item changes."""

from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI, Request

from apps.profiles import exposures, ingest
from apps.profiles.deps import DeadLettersDep, RealtimeDep
from apps.profiles.settings import ProfilesSettings
from apps.shared.settings import EVENTS_DEAD_LETTER_TOPIC, EVENTS_TOPIC, EXPOSURES_TOPIC, ITEMS_TOPIC
from apps.shared.subscriptions import Subscriptions, bulk_entries, bulk_reply


def subscribe(app: FastAPI, settings: ProfilesSettings) -> None:
    async def on_events(rt: RealtimeDep, request: Request) -> dict[str, Any]:
        return await ingest.ingest_bulk(await request.body(), rt)

    async def on_exposures(rt: RealtimeDep, request: Request) -> dict[str, Any]:
        return await exposures.ingest_exposures_bulk(await request.body(), rt.turns)

    async def on_dead_letter(dead_letters: DeadLettersDep, cloud_event: dict[str, Any] = Body(...)) -> dict[str, str]:
        await dead_letters.keep(cloud_event)
        return ingest.SUCCESS

    async def on_item_changes(rt: RealtimeDep, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """The old Kafka item consumer: keeps the item-features snapshot in step with the catalog. In bulk, in
        order: a 10,000-item catalog batch is a few deliveries, not 10,000 concurrent requests that would queue
        the app's health probe past its timeout."""
        statuses = {}
        for entry_id, data in bulk_entries(body):
            rt.items.on_item_change(data or {})
            statuses[entry_id] = ingest.SUCCESS["status"]
        return bulk_reply(statuses)

    subscriptions = Subscriptions(app)
    subscriptions.add(
        settings.pubsub_name,
        EVENTS_TOPIC,
        on_events,
        dead_letter_topic=EVENTS_DEAD_LETTER_TOPIC,
        bulk_max_messages=settings.bulk_max_messages,
        bulk_max_await_ms=settings.bulk_max_await_ms,
    )
    subscriptions.add(settings.pubsub_name, EVENTS_DEAD_LETTER_TOPIC, on_dead_letter)
    subscriptions.add(
        settings.pubsub_name,
        EXPOSURES_TOPIC,
        on_exposures,
        bulk_max_messages=settings.bulk_max_messages,
        bulk_max_await_ms=settings.bulk_max_await_ms,
    )
    subscriptions.add(settings.pubsub_name, ITEMS_TOPIC, on_item_changes, bulk_max_messages=1000, bulk_max_await_ms=100)
