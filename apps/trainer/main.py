"""trainer: hosts the offline workflows and their cron triggers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.ext.workflow import WorkflowRuntime
from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import FastAPI

from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.trainer import runs
from apps.trainer.settings import TrainerSettings
from lemo.stores.mongo import EventArchive, open_database
from workflows import popularity_activities as activities
from workflows.popularity import POPULARITY_WORKFLOW, popularity_workflow

settings = TrainerSettings()
configure_logging("trainer", settings.log_level)


def build_runtime() -> WorkflowRuntime:
    activities.configure(
        activities.ActivityDeps(
            mongodb_uri=settings.mongodb_uri,
            mongodb_database=settings.mongodb_database,
            state_store=settings.state_store,
        )
    )
    runtime = WorkflowRuntime()
    runtime.register_workflow(popularity_workflow, name=POPULARITY_WORKFLOW)
    runtime.register_activity(activities.rank_popular_items, name=activities.RANK_POPULAR)
    runtime.register_activity(activities.publish_popular_items, name=activities.PUBLISH_POPULAR)
    return runtime


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    app.state.archive = EventArchive(
        open_database(settings.mongodb_uri, settings.mongodb_database), settings.archive_retention_days
    )
    runtime = build_runtime()
    await asyncio.to_thread(runtime.start)
    app.state.workflows = DaprWorkflowClient()
    try:
        yield
    finally:
        await asyncio.to_thread(runtime.shutdown)


app = FastAPI(title="lemo trainer", lifespan=lifespan)
app.include_router(health_router("trainer"))
app.include_router(runs.router)
