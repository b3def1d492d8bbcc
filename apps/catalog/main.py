"""catalog: the item store (MongoDB) and the publisher of item changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from apps.catalog import ingest, items
from apps.catalog.service import Catalog
from apps.catalog.settings import CatalogSettings
from apps.shared.app import create_app
from apps.shared.publish import Publisher
from apps.shared.sidecar import sidecar_http
from lemo.stores.mongo import ItemRepository, open_database

settings = CatalogSettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    repo = ItemRepository(db)
    await repo.ensure_indexes()
    async with sidecar_http() as http:
        app.state.catalog = catalog = Catalog(repo, Publisher(http, settings.pubsub_name))
        async with ingest.consuming(db, catalog, settings.pubsub_name):
            yield


app = create_app("catalog", settings, [items.router], lifespan)
