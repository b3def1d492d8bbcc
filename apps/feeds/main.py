"""feeds: precomputed feeds through the recommend workflow, refreshed on events and by the hourly warm-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import FastAPI

from apps.feeds import feeds, refresh
from apps.feeds.refresher import Population, Refresher
from apps.feeds.scheduler import FeedScheduler
from apps.feeds.service import Feeds
from apps.feeds.settings import FeedsSettings
from apps.feeds.workflows import QUIET, build_runtime
from apps.shared.app import create_app
from apps.shared.sidecar import sidecar_http
from lemo.stores.mongo import EventArchive, TenantRepository, UserRepository, open_database

settings = FeedsSettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    archive = EventArchive(db, settings.archive_retention_days)
    population = Population(TenantRepository(db), UserRepository(db), archive, settings.warmup_window_s)
    runtime = build_runtime(settings)
    await asyncio.to_thread(runtime.start)
    scheduler = FeedScheduler(DaprWorkflowClient(logger_options=QUIET), settings.purge_interval_s)
    purging = asyncio.create_task(scheduler.purge_forever())
    try:
        async with sidecar_http() as http:
            app.state.feeds = Feeds(settings, scheduler, http)
            app.state.refresher = Refresher(scheduler, http, population, settings)
            yield
    finally:
        purging.cancel()
        with suppress(asyncio.CancelledError):
            await purging
        await asyncio.to_thread(runtime.shutdown)


app = create_app("feeds", settings, [feeds.router, refresh.router], lifespan)
refresh.subscribe(app, settings)
