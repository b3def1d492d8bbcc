"""catalog: the item store (MongoDB) and the publisher of item changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from fastapi import FastAPI

from apps.catalog import items
from apps.catalog.settings import CatalogSettings
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from lemo.stores.mongo import ItemRepository, open_database

settings = CatalogSettings()
configure_logging("catalog", settings.log_level)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    app.state.items = ItemRepository(open_database(settings.mongodb_uri, settings.mongodb_database))
    await app.state.items.ensure_indexes()
    async with DaprClient() as client:
        app.state.dapr = client
        yield


app = FastAPI(title="lemo catalog", lifespan=lifespan)
app.include_router(health_router("catalog"))
app.include_router(items.router)
