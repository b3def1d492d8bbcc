"""catalog: the item store (MongoDB) and the publisher of item changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from apps.catalog import ingest, items
from apps.catalog.settings import CatalogSettings
from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.publish import Publisher
from apps.shared.security import require_app_token
from apps.shared.sidecar import sidecar_http
from lemo.stores.mongo import ItemRepository, open_database

settings = CatalogSettings()
configure_logging("catalog", settings.log_level)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    app.state.items = ItemRepository(db)
    await app.state.items.ensure_indexes()
    async with sidecar_http() as http:
        app.state.publisher = Publisher(http, settings.pubsub_name)
        async with ingest.consuming(db, app.state.items, app.state.publisher, settings.pubsub_name):
            yield


app = FastAPI(title="lemo catalog", lifespan=lifespan)
install_error_handlers(app)
install_observability(app)
require_app_token(app)  # every route but /healthz: callers come through the sidecar
app.include_router(health_router("catalog"))
app.include_router(items.router)
