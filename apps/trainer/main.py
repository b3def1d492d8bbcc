"""trainer: hosts the offline workflows (popularity, training, cleanup) and their cron triggers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import FastAPI

from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.security import require_app_token
from apps.trainer import runs, training
from apps.trainer.settings import TrainerSettings
from apps.trainer.workflows import build_runtime
from lemo.stores.exposures import ExposureArchive
from lemo.stores.mongo import EventArchive, ItemRepository, ModelRegistry, open_database

settings = TrainerSettings()
configure_logging("trainer", settings.log_level)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    app.state.archive = EventArchive(db, settings.archive_retention_days)
    app.state.registry = ModelRegistry(db)
    app.state.items = ItemRepository(db)
    app.state.exposures = ExposureArchive(db, settings.exposure_retention_days)
    await app.state.registry.ensure_indexes()
    runtime = build_runtime(settings)
    await asyncio.to_thread(runtime.start)
    app.state.workflows = DaprWorkflowClient()
    try:
        async with DaprClient() as dapr:
            app.state.dapr = dapr
            yield
    finally:
        await asyncio.to_thread(runtime.shutdown)


app = FastAPI(title="lemo trainer", lifespan=lifespan)
install_error_handlers(app)
install_observability(app)
require_app_token(app)  # every route but /healthz: callers come through the sidecar
app.include_router(health_router("trainer"))
app.include_router(runs.router)
app.include_router(training.router)
