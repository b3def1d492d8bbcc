"""events: the behavior-event intake; publishes validated events to the events topic and archives them, and the
exposures (served lists) the gateway publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from apps.events import activity, events, experiments, ingest
from apps.events import archive as archiving
from apps.events.counts import SidecarEventCounts
from apps.events.service import Activity, EventStats, IngestErrors, Intake
from apps.events.settings import EventsSettings
from apps.shared.app import create_app
from apps.shared.publish import Publisher
from apps.shared.sidecar import sidecar_http
from lemo.stores.exposures import ExposureArchive
from lemo.stores.ingest import IngestLog, tenant_ids
from lemo.stores.mongo import EventArchive, open_database

settings = EventsSettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    app.state.archive = archive = EventArchive(db, settings.archive_retention_days)
    app.state.exposures = exposures = ExposureArchive(db, settings.exposure_retention_days)
    ingest_log = IngestLog(db)
    await archive.ensure_indexes()
    await exposures.ensure_indexes()
    await ingest_log.ensure_indexes()
    async with sidecar_http(settings.publish_timeout_s) as http:
        app.state.counts = counts = SidecarEventCounts(
            http, settings.state_store, settings.attribution_ttl_s, settings.count_retention()
        )
        app.state.stats = EventStats(counts)
        app.state.activity = Activity(archive, exposures)
        app.state.intake = intake = Intake(Publisher(http, settings.pubsub_name))
        app.state.ingest_errors = IngestErrors(ingest_log)
        async with ingest.consuming(ingest_log, partial(tenant_ids, db), intake, settings.pubsub_name):
            yield


app = create_app("events", settings, [events.router, ingest.router, experiments.router, activity.router], lifespan)
archiving.subscribe(app, settings)
