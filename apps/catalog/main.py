"""catalog: the item store (MongoDB) and the publisher of item changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from apps.catalog import ingest, items
from apps.catalog.service import Catalog
from apps.catalog.settings import CatalogSettings
from apps.shared.app import create_app
from apps.shared.publish import Publisher
from apps.shared.sidecar import sidecar_http
from lemo.stores.ingest import IngestLog, tenant_ids
from lemo.stores.mongo import ItemRepository, open_database

settings = CatalogSettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    repo = ItemRepository(db)
    await repo.ensure_indexes()
    ingest_log = IngestLog(db)
    await ingest_log.ensure_indexes()
    async with sidecar_http() as http:
        app.state.catalog = catalog = Catalog(repo, Publisher(http, settings.pubsub_name))
        async with ingest.consuming(ingest_log, partial(tenant_ids, db), catalog, settings.pubsub_name):
            yield


app = create_app("catalog", settings, [items.router], lifespan)
