"""The events app's route and subscription dependencies as typed aliases (what the lifespan in main.py builds, on
app.state): the routes take the services (service.py), the archive subscription its archives."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from apps.events.counts import SidecarEventCounts
from apps.events.service import Activity, EventStats, IngestErrors, Intake
from apps.shared.deps import from_state
from lemo.stores.ports import EventSink, ExposureSink

IntakeDep = Annotated[Intake, Depends(from_state("intake"))]
StatsDep = Annotated[EventStats, Depends(from_state("stats"))]
ActivityDep = Annotated[Activity, Depends(from_state("activity"))]
IngestErrorsDep = Annotated[IngestErrors, Depends(from_state("ingest_errors"))]
Counts = Annotated[SidecarEventCounts, Depends(from_state("counts"))]
# The archive subscription's (archive.py): it writes the archives, as the one consumer that does.
Archive = Annotated[EventSink, Depends(from_state("archive"))]
Exposures = Annotated[ExposureSink, Depends(from_state("exposures"))]
