"""The events app's route and subscription dependencies as typed aliases (what the lifespan in main.py builds, on
app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.events.counts import SidecarEventCounts
from apps.shared.publish import Publisher
from lemo.stores.exposures import ExposureArchive
from lemo.stores.ingest import IngestLog
from lemo.stores.mongo import EventArchive


def _publisher(request: Request) -> Publisher:
    return request.app.state.publisher  # type: ignore[no-any-return]


def _counts(request: Request) -> SidecarEventCounts:
    return request.app.state.counts  # type: ignore[no-any-return]


def _archive(request: Request) -> EventArchive:
    return request.app.state.archive  # type: ignore[no-any-return]


def _exposures(request: Request) -> ExposureArchive:
    return request.app.state.exposures  # type: ignore[no-any-return]


def _ingest_log(request: Request) -> IngestLog:
    return request.app.state.ingest_log  # type: ignore[no-any-return]


PublisherDep = Annotated[Publisher, Depends(_publisher)]
Counts = Annotated[SidecarEventCounts, Depends(_counts)]
Archive = Annotated[EventArchive, Depends(_archive)]
Exposures = Annotated[ExposureArchive, Depends(_exposures)]
IngestLogDep = Annotated[IngestLog, Depends(_ingest_log)]
