"""gateway: the public front door (HTTP on 127.0.0.1:8080 by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from fastapi import FastAPI

from apps.gateway import status
from apps.gateway.settings import GatewaySettings
from apps.shared.health import health_router
from apps.shared.logging import configure_logging

settings = GatewaySettings()
configure_logging("gateway", settings.log_level)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    async with DaprClient() as client:
        app.state.dapr = client
        yield


app = FastAPI(title="Lemo Recommender", lifespan=lifespan)
app.include_router(health_router("gateway"))
app.include_router(status.router)
