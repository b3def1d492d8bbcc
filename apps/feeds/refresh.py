"""Keeping feeds fresh, the routes: the events subscription (the old realtime-stream), the hourly warm-up cron and
a tenant's refresh on request; apps/feeds/refresher.py decides whose feeds and when.

The events subscription is the feeds app's own (consumer group: this app id), so it never slows the profiles or
archive consumers. It only schedules workflows, never waits for them, and always acknowledges: a refresh that
could not be scheduled is caught up by the next event or the warm-up. Impressions and served lists (exposures,
on their own topic) never refresh a feed: refreshing on them would loop.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request, status

from apps.feeds.deps import RefresherDep
from apps.feeds.settings import FeedsSettings
from apps.shared.errors import ApiError
from apps.shared.settings import CRON_FEEDS, EVENTS_TOPIC
from apps.shared.subscriptions import Subscriptions, bulk_messages, bulk_reply
from lemo.events import Event, Identifier
from lemo.tenancy import TenantId

logger = logging.getLogger(__name__)

router = APIRouter(tags=["refresh"])


def subscribe(app: FastAPI, settings: FeedsSettings) -> None:
    async def on_events(refresher: RefresherDep, request: Request) -> dict[str, Any]:
        # Malformed entries are acknowledged too: the profiles app's subscription dead-letters them.
        entries, malformed = bulk_messages(await request.body(), Event)
        events = [event for _, event in entries]
        try:
            await refresher.on_events(events)
        except Exception:
            logger.exception("feed refresh for %d events failed; the warm-up catches up", len(events))
        return bulk_reply(dict.fromkeys([*(entry_id for entry_id, _ in entries), *malformed], "SUCCESS"))

    Subscriptions(app).add(
        settings.pubsub_name,
        EVENTS_TOPIC,
        on_events,
        bulk_max_messages=settings.bulk_max_messages,
        bulk_max_await_ms=settings.bulk_max_await_ms,
    )


@router.post("/refresh/{tenant_id}", status_code=status.HTTP_202_ACCEPTED)
async def refresh_tenant(tenant_id: TenantId, refresher: RefresherDep) -> dict[str, Any]:
    """Refreshes every feed of the tenant now (after a bulk import, say); follow the runs at GET .../{run_id}.
    Users refreshed within the debounce window are folded into a run at its end."""
    return await refresher.refresh_tenant(tenant_id)


@router.get("/refresh/{tenant_id}/{run_id}")
async def refresh_run(tenant_id: TenantId, run_id: Identifier, refresher: RefresherDep) -> dict[str, Any]:
    found = await refresher.scheduler.batch_status(tenant_id, run_id)
    if found is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "run_not_found", f"no feed-refresh run {run_id}")
    return found


@router.post(f"/{CRON_FEEDS}")
async def cron_feeds(refresher: RefresherDep) -> dict[str, Any]:
    """Fired by the hourly cron binding of the same name."""
    result = await refresher.warm_up()
    logger.info(
        "cron %s: %d active users, %d refreshes scheduled", CRON_FEEDS, result["active_users"], result["scheduled"]
    )
    return result
