"""events: the behavior-event intake; publishes validated events to the events topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from fastapi import FastAPI

from apps.events import track
from apps.events.settings import EventsSettings
from apps.shared.health import health_router
from apps.shared.logging import configure_logging

settings = EventsSettings()
configure_logging("events", settings.log_level)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    async with DaprClient() as client:
        app.state.dapr = client
        yield


app = FastAPI(title="lemo events", lifespan=lifespan)
app.include_router(health_router("events"))
app.include_router(track.router)
