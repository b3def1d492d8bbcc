"""Events from the tenants' ingest topics (`ingest.<tenant>.events`, lemo/ingest.py): validated as the HTTP API
validates them, for the topic's tenant, then stamped and published onto the internal events topic exactly as
`POST /events/_batch` does; rejections are recorded and listed at GET /ingest/{tenant_id}/errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Query
from pymongo.asynchronous.database import AsyncDatabase

from apps.events.deps import IngestErrorsDep
from apps.events.service import IngestErrors, Intake
from apps.shared import ingest
from lemo.events import Event, Identifier
from lemo.ingest import IngestKind, event_of

router = APIRouter(prefix="/ingest", tags=["ingest"])


@asynccontextmanager
async def consuming(db: AsyncDatabase[dict[str, Any]], intake: Intake, pubsub: str) -> AsyncIterator[IngestErrors]:
    """Consumes every tenant's events ingest topic while open; yields the rejections it records."""

    async def forward(tenant_id: str, events: Sequence[tuple[str, Event]]) -> set[str]:
        failed = await intake.publish([e for _, e in events])
        return {events[int(i)][0] for i in failed}

    async with ingest.consuming(db, pubsub, IngestKind.EVENTS, event_of, forward, ingest.IngestSettings()) as log:
        yield IngestErrors(log)


@router.get("/{tenant_id}/errors")
async def errors(
    tenant_id: Identifier,
    ingest_errors: IngestErrorsDep,
    limit: int = Query(100, ge=1, le=1000),
    kind: IngestKind | None = None,
) -> dict[str, Any]:
    """The tenant's recent ingest rejections (events and items), newest first, with the counts per kind."""
    return await ingest_errors.report(tenant_id, limit, kind)
