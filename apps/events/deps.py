"""The events app's route and subscription dependencies as typed aliases (what the lifespan in main.py builds, on
app.state): the routes take the services (service.py), the archive subscription its archives."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.events.counts import SidecarEventCounts
from apps.events.service import Activity, EventStats, IngestErrors, Intake
from lemo.stores.exposures import ExposureArchive
from lemo.stores.mongo import EventArchive


def _intake(request: Request) -> Intake:
    return request.app.state.intake  # type: ignore[no-any-return]


def _stats(request: Request) -> EventStats:
    return request.app.state.stats  # type: ignore[no-any-return]


def _activity(request: Request) -> Activity:
    return request.app.state.activity  # type: ignore[no-any-return]


def _ingest_errors(request: Request) -> IngestErrors:
    return request.app.state.ingest_errors  # type: ignore[no-any-return]


def _counts(request: Request) -> SidecarEventCounts:
    return request.app.state.counts  # type: ignore[no-any-return]


def _archive(request: Request) -> EventArchive:
    return request.app.state.archive  # type: ignore[no-any-return]


def _exposures(request: Request) -> ExposureArchive:
    return request.app.state.exposures  # type: ignore[no-any-return]


IntakeDep = Annotated[Intake, Depends(_intake)]
StatsDep = Annotated[EventStats, Depends(_stats)]
ActivityDep = Annotated[Activity, Depends(_activity)]
IngestErrorsDep = Annotated[IngestErrors, Depends(_ingest_errors)]
Counts = Annotated[SidecarEventCounts, Depends(_counts)]
# The archive subscription's (archive.py): it writes the archives, as the one consumer that does.
Archive = Annotated[EventArchive, Depends(_archive)]
Exposures = Annotated[ExposureArchive, Depends(_exposures)]
