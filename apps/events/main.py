"""events: the behavior-event intake; publishes validated events to the events topic and archives them, and the
exposures (served lists) the gateway publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from apps.events import activity, experiments, ingest, track
from apps.events import archive as archiving
from apps.events.counts import SidecarEventCounts
from apps.events.settings import EventsSettings
from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.publish import Publisher
from apps.shared.security import require_app_token
from apps.shared.sidecar import sidecar_http
from lemo.stores.exposures import ExposureArchive
from lemo.stores.mongo import EventArchive, open_database

settings = EventsSettings()
configure_logging("events", settings.log_level)
db = open_database(settings.mongodb_uri, settings.mongodb_database)
archive = EventArchive(db, settings.archive_retention_days)
exposures = ExposureArchive(db, settings.exposure_retention_days)
sidecar = sidecar_http(settings.publish_timeout_s)  # its session opens on first use, inside the app
counts = SidecarEventCounts(sidecar, settings.state_store, settings.attribution_ttl_s, settings.count_retention())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    app.state.archive = archive
    app.state.counts = counts
    app.state.exposures = exposures
    await archive.ensure_indexes()
    await exposures.ensure_indexes()
    async with sidecar as http:
        app.state.publisher = Publisher(http, settings.pubsub_name)
        async with ingest.consuming(app, db, app.state.publisher, settings.pubsub_name):
            yield


app = FastAPI(title="lemo events", lifespan=lifespan)
install_error_handlers(app)
install_observability(app)
require_app_token(app)  # every route but /healthz: callers come through the sidecar
app.include_router(health_router("events"))
app.include_router(track.router)
app.include_router(ingest.router)
app.include_router(experiments.router)
app.include_router(activity.router)
archiving.subscribe(app, archive, counts, exposures, settings)
