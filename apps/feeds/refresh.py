"""Keeping feeds fresh: on events (the old realtime-stream) and on the hourly warm-up cron.

The events subscription is the feeds app's own (consumer group: this app id), so it never slows the profiles or
archive consumers. It only schedules workflows, never waits for them, and always acknowledges: a refresh that
could not be scheduled is caught up by the next event or the warm-up. Impressions never refresh a feed: the
gateway logs one per served item, so refreshing on them would loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from fastapi import APIRouter, Body, FastAPI, Request, status
from pydantic import ValidationError

from apps.feeds.scheduler import Debouncer, FeedScheduler
from apps.feeds.settings import FeedsSettings
from apps.shared.errors import ApiError
from apps.shared.settings import CRON_FEEDS, EVENTS_TOPIC
from apps.shared.sidecar import SidecarHttp, SidecarUnreachable
from apps.shared.subscriptions import Subscriptions, bulk_entries, bulk_reply
from lemo.events import Event, EventType, Identifier
from lemo.serving.contract import feed_state_key
from lemo.stores.mongo import EventArchive
from lemo.tenancy import TenantId
from workflows.feed_refresh import FeedBatch

logger = logging.getLogger(__name__)

router = APIRouter(tags=["refresh"])

# Feed-refresh runs scheduled at once by one delivery or one warm-up run.
_CONCURRENCY = 16


class Refresher:
    def __init__(
        self, scheduler: FeedScheduler, http: SidecarHttp, archive: EventArchive, settings: FeedsSettings
    ) -> None:
        self.scheduler = scheduler
        self._http = http
        self._archive = archive
        self._settings = settings
        self._debounce = Debouncer(settings.refresh_debounce_s)
        self._tokens, self._filled_at = settings.refresh_max_per_s, time.monotonic()

    async def refresh(self, users: list[tuple[str, str]]) -> int:
        """Schedules a refresh of each (tenant, user)'s feeds, debounced; returns how many were scheduled."""
        return sum(n for _, n in await self.schedule(users))

    async def schedule(self, users: list[tuple[str, str]]) -> list[tuple[str, int]]:
        """The refreshes of `refresh`, as (run id, users in it). Users of one tenant and scenario due at the same
        second go into feed-refresh runs of up to `refresh_batch_size`."""
        settings = self._settings
        due: dict[tuple[str, str, int], list[str]] = {}
        for tenant_id, user_id in users:
            for scenario_id in settings.refresh_scenarios:
                delay = self._debounce.delay((tenant_id, user_id, scenario_id))
                if delay is not None:
                    due.setdefault((tenant_id, scenario_id, math.ceil(delay)), []).append(user_id)
        batches = [
            (
                FeedBatch(
                    tenant_id=tenant_id,
                    scenario_id=scenario_id,
                    user_ids=user_ids[i : i + settings.refresh_batch_size],
                    count=settings.feed_size,
                    users_per_activity=settings.refresh_users_per_activity,
                ),
                float(delay),
            )
            for (tenant_id, scenario_id, delay), user_ids in due.items()
            for i in range(0, len(user_ids), settings.refresh_batch_size)
        ]
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def start(batch: FeedBatch, delay: float) -> tuple[str, int] | None:
            async with gate:
                try:
                    return await self.scheduler.start_batch(batch, delay), len(batch.user_ids)
                except Exception:
                    logger.warning("feed refresh not scheduled", exc_info=True, extra={"tenant_id": batch.tenant_id})
                    return None

        return [run for run in await asyncio.gather(*(start(b, d) for b, d in batches)) if run is not None]

    async def on_events(self, events: list[Event]) -> int:
        """Refreshes the users behind non-impression events: those active now, and those with older events (a
        backfill) only when they already have a feed."""
        newest: dict[tuple[str, str], float] = {}
        for e in events:
            if e.type is not EventType.IMPRESSION:
                key = (e.tenant_id, e.user_id)
                newest[key] = max(newest.get(key, 0.0), e.timestamp)
        recent_since = time.time() - self._settings.refresh_active_s
        active = [k for k, ts in newest.items() if ts >= recent_since]
        dormant = [k for k, ts in newest.items() if ts < recent_since]
        if dormant:
            active += await self._with_feeds(dormant)
        return await self.refresh(self._within_budget(active))

    def _within_budget(self, users: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """As many users as the refresh budget (refresh_max_per_s) allows now; the rest are skipped and counted."""
        rate = self._settings.refresh_max_per_s
        if rate <= 0:
            return users
        now = time.monotonic()
        self._tokens = min(rate, self._tokens + (now - self._filled_at) * rate)
        self._filled_at = now
        allowed = users[: int(self._tokens)]
        self._tokens -= len(allowed)
        if len(allowed) < len(users):
            logger.info("refresh budget spent: %d active users wait for the warm-up", len(users) - len(allowed))
        return allowed

    async def _with_feeds(self, users: list[tuple[str, str]]) -> list[tuple[str, str]]:
        keys = {feed_state_key(t, u, s): (t, u) for t, u in users for s in self._settings.refresh_scenarios}
        try:
            resp = await self._http.post(
                f"/v1.0/state/{self._settings.state_store}/bulk", json={"keys": list(keys), "parallelism": 10}
            )
            found = [r["key"] for r in resp.json() if r.get("data") is not None] if resp.status_code == 200 else []
        except (SidecarUnreachable, ValueError):
            logger.warning("could not check which of %d users have feeds", len(users), exc_info=True)
            return []
        return sorted({keys[k] for k in found})

    async def warm_up(self) -> dict[str, Any]:
        """Refreshes the feeds of users with history (most recently active first; only those active within
        `warmup_window_s` when set), tenant by tenant, at most `warmup_max_users` per run."""
        settings = self._settings
        since = time.time() - settings.warmup_window_s if settings.warmup_window_s > 0 else 0.0
        users: list[tuple[str, str]] = []
        for tenant_id in await self._archive.tenants():
            room = settings.warmup_max_users - len(users)
            if room <= 0:
                break
            active = await self._archive.active_users(tenant_id, since, min(room, settings.warmup_users_per_tenant))
            users += [(tenant_id, u) for u in active]
        scheduled = await self.refresh(users)
        return {"active_users": len(users), "scheduled": scheduled}

    async def refresh_tenant(self, tenant_id: str) -> dict[str, Any]:
        """The warm-up for one tenant now: every user with history (as many as `warmup_users_per_tenant`)."""
        settings = self._settings
        since = time.time() - settings.warmup_window_s if settings.warmup_window_s > 0 else 0.0
        active = await self._archive.active_users(tenant_id, since, settings.warmup_users_per_tenant)
        runs = await self.schedule([(tenant_id, u) for u in active])
        return {"users": len(active), "scheduled": sum(n for _, n in runs), "runs": [r for r, _ in runs]}


def _events_of(body: dict[str, Any]) -> tuple[list[str], list[Event]]:
    entry_ids, events = [], []
    for entry_id, data in bulk_entries(body):
        entry_ids.append(entry_id)
        try:
            events.append(Event.model_validate(data))
        except ValidationError:
            pass  # the profiles app's subscription dead-letters malformed events
    return entry_ids, events


def subscribe(app: FastAPI, settings: FeedsSettings) -> None:
    async def on_events(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        entry_ids, events = _events_of(body)
        refresher: Refresher = request.app.state.refresher
        try:
            await refresher.on_events(events)
        except Exception:
            logger.exception("feed refresh for %d events failed; the warm-up catches up", len(events))
        return bulk_reply(dict.fromkeys(entry_ids, "SUCCESS"))

    Subscriptions(app).add(
        settings.pubsub_name,
        EVENTS_TOPIC,
        on_events,
        bulk_max_messages=settings.bulk_max_messages,
        bulk_max_await_ms=settings.bulk_max_await_ms,
    )


@router.post("/refresh/{tenant_id}", status_code=status.HTTP_202_ACCEPTED)
async def refresh_tenant(tenant_id: TenantId, request: Request) -> dict[str, Any]:
    """Refreshes every feed of the tenant now (after a bulk import, say); follow the runs at GET .../{run_id}.
    Users refreshed within the debounce window are folded into a run at its end."""
    refresher: Refresher = request.app.state.refresher
    return await refresher.refresh_tenant(tenant_id)


@router.get("/refresh/{tenant_id}/{run_id}")
async def refresh_run(tenant_id: TenantId, run_id: Identifier, request: Request) -> dict[str, Any]:
    refresher: Refresher = request.app.state.refresher
    found = await refresher.scheduler.batch_status(tenant_id, run_id)
    if found is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "run_not_found", f"no feed-refresh run {run_id}")
    return found


@router.post(f"/{CRON_FEEDS}")
async def cron_feeds(request: Request) -> dict[str, Any]:
    """Fired by the hourly cron binding of the same name."""
    refresher: Refresher = request.app.state.refresher
    result = await refresher.warm_up()
    logger.info(
        "cron %s: %d active users, %d refreshes scheduled", CRON_FEEDS, result["active_users"], result["scheduled"]
    )
    return result
