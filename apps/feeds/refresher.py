"""Which users' feeds to refresh, and when: on events (the old realtime-stream), on the hourly warm-up, and on
request for a whole tenant. Refreshes are debounced per user, capped per second for event bursts, and started as
feed-refresh runs of many users each (workflows/feed_refresh.py)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from apps.feeds.scheduler import Debouncer, FeedScheduler
from apps.feeds.settings import FeedsSettings
from apps.shared.sidecar import SidecarHttp, SidecarUnreachable
from lemo.events import Event, EventType
from lemo.serving.contract import feed_state_key
from lemo.stores.ports import ActiveUsers, TenantList, UserIds
from workflows.feed_refresh import FeedBatch

logger = logging.getLogger(__name__)

# Feed-refresh runs scheduled at once by one delivery or one warm-up run.
_CONCURRENCY = 16
# Tenants one warm-up run looks at, at most.
_MAX_TENANTS = 100_000


class Refresher:
    def __init__(
        self,
        scheduler: FeedScheduler,
        http: SidecarHttp,
        population: Population,
        settings: FeedsSettings,
    ) -> None:
        self.scheduler = scheduler
        self._http = http
        self._population = population
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
        users: list[tuple[str, str]] = []
        for tenant_id in await self._population.tenants():
            room = settings.warmup_max_users - len(users)
            if room <= 0:
                break
            active = await self._population.users(tenant_id, min(room, settings.warmup_users_per_tenant))
            users += [(tenant_id, u) for u in active]
        scheduled = await self.refresh(users)
        return {"active_users": len(users), "scheduled": scheduled}

    async def refresh_tenant(self, tenant_id: str) -> dict[str, Any]:
        """The warm-up for one tenant now: every user with history (as many as `warmup_users_per_tenant`)."""
        active = await self._population.users(tenant_id, self._settings.warmup_users_per_tenant)
        runs = await self.schedule([(tenant_id, u) for u in active])
        return {"users": len(active), "scheduled": sum(n for _, n in runs), "runs": [r for r, _ in runs]}


class Population:
    """Whose feeds the warm-up refreshes. Every user of the tenant by default, from the users collection (an event's
    user is stored on its first event, so every user with history is there; Gorse keeps a feed for every user too);
    with `warmup_window_s` set, only those the archive saw act within the window, most recently active first.

    The archive is the costly source on FerretDB, which keeps no index: listing the demo's 943 users from its
    100,000 events (a sort of the whole archive) and its tenants (a distinct over it) took 45 s of FerretDB CPU per
    warm-up, about 48 ms per feed; the users collection answers in under a second."""

    def __init__(self, tenants: TenantList, users: UserIds, archive: ActiveUsers, window_s: float) -> None:
        self._tenants, self._users, self._archive, self._window_s = tenants, users, archive, window_s

    async def tenants(self) -> list[str]:
        return [t.tenant_id for t in await self._tenants.all(_MAX_TENANTS)]

    async def users(self, tenant_id: str, limit: int) -> list[str]:
        if self._window_s > 0:
            return await self._archive.active_users(tenant_id, time.time() - self._window_s, limit)
        return await self._users.ids(tenant_id, limit)
