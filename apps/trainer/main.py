"""trainer: hosts the offline workflows (popularity, training, cleanup) and their cron triggers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import FastAPI

from apps.shared.app import create_app
from apps.trainer import cron, runs, tenants
from apps.trainer.service import Trainer
from apps.trainer.settings import TrainerSettings
from apps.trainer.workflows import build_runtime
from lemo.stores.exposures import ExposureArchive
from lemo.stores.mongo import EventArchive, ItemRepository, ModelRegistry, TenantRepository, open_database

settings = TrainerSettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    registry = ModelRegistry(db)
    await registry.ensure_indexes()
    runtime = build_runtime(settings)
    await asyncio.to_thread(runtime.start)
    try:
        async with DaprClient() as dapr:
            app.state.trainer = Trainer(
                settings,
                DaprWorkflowClient(),
                dapr,
                registry,
                EventArchive(db, settings.archive_retention_days),
                ItemRepository(db),
                ExposureArchive(db, settings.exposure_retention_days),
                TenantRepository(db),
            )
            yield
    finally:
        await asyncio.to_thread(runtime.shutdown)


app = create_app("trainer", settings, [runs.router, tenants.router, cron.router], lifespan)
