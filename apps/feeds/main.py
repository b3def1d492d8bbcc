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
from apps.feeds.settings import FeedsSettings
from apps.feeds.workflows import QUIET, build_runtime
from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.security import require_app_token
from apps.shared.sidecar import sidecar_http
from lemo.stores.mongo import EventArchive, TenantRepository, UserRepository, open_database

settings = FeedsSettings()
configure_logging("feeds", settings.log_level)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    archive = EventArchive(db, settings.archive_retention_days)
    population = Population(TenantRepository(db), UserRepository(db), archive, settings.warmup_window_s)
    runtime = build_runtime(settings)
    await asyncio.to_thread(runtime.start)
    scheduler = FeedScheduler(DaprWorkflowClient(logger_options=QUIET), settings.purge_interval_s)
    purging = asyncio.create_task(scheduler.purge_forever())
    try:
        async with sidecar_http() as http:
            app.state.http = http
            app.state.scheduler = scheduler
            app.state.refresher = Refresher(scheduler, http, population, settings)
            yield
    finally:
        purging.cancel()
        with suppress(asyncio.CancelledError):
            await purging
        await asyncio.to_thread(runtime.shutdown)


app = FastAPI(title="lemo feeds", lifespan=lifespan)
install_error_handlers(app)
install_observability(app)
require_app_token(app)  # every route but /healthz: callers come through the sidecar
app.include_router(health_router("feeds"))
app.include_router(feeds.router)
app.include_router(refresh.router)
refresh.subscribe(app, settings)
