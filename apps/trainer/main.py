"""trainer: hosts the offline workflows (popularity, training, cleanup) and their cron triggers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import FastAPI

from apps.shared.app import create_app
from apps.shared.sidecar import SidecarState
from apps.trainer import cron, runs, tenants
from apps.trainer.service import Trainer
from apps.trainer.settings import TrainerSettings
from apps.trainer.startup import HealthProbes, start_worker
from apps.trainer.watchdog import StateLedger, watching_runs
from apps.trainer.workflows import build_runtime
from lemo.stores.exposures import ExposureArchive
from lemo.stores.mongo import EventArchive, ItemRepository, ModelRegistry, TenantRepository, open_database

settings = TrainerSettings()
# Set by the first answered health probe: the workflow worker waits for it (apps/trainer/startup.py says why).
probed = asyncio.Event()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    registry = ModelRegistry(db)
    await registry.ensure_indexes()
    runtime = build_runtime(settings)
    worker = start_worker(runtime, probed, settings.worker_settle_s, settings.worker_start_wait_s)
    try:
        async with DaprClient() as dapr:
            workflows = DaprWorkflowClient()
            app_id = (await dapr.get_metadata()).application_id
            open_runs = StateLedger(SidecarState(dapr, settings.state_store), app_id)
            app.state.trainer = Trainer(
                settings,
                workflows,
                dapr,
                registry,
                EventArchive(db, settings.archive_retention_days),
                ItemRepository(db),
                ExposureArchive(db, settings.exposure_retention_days),
                TenantRepository(db),
                open_runs,
            )
            async with watching_runs(workflows, open_runs, settings):
                yield
    finally:
        worker.cancel()
        await asyncio.to_thread(runtime.shutdown)


app = create_app("trainer", settings, [runs.router, tenants.router, cron.router], lifespan)
app.add_middleware(HealthProbes, answered=probed)
