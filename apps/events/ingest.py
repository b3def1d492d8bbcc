"""Events from the tenants' ingest topics (`ingest.<tenant>.events`, lemo/ingest.py): validated as the HTTP API
validates them, for the topic's tenant, then stamped and published onto the internal events topic exactly as
`POST /events/_batch` does; rejections are recorded and listed at GET /ingest/{tenant_id}/errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Query
from pymongo.asynchronous.database import AsyncDatabase

from apps.events.deps import IngestLogDep
from apps.events.events import publish_events
from apps.shared import ingest
from apps.shared.publish import Publisher
from lemo.events import Event, Identifier
from lemo.ingest import IngestKind, event_of

router = APIRouter(prefix="/ingest", tags=["ingest"])


@asynccontextmanager
async def consuming(
    app: FastAPI, db: AsyncDatabase[dict[str, Any]], publisher: Publisher, pubsub: str
) -> AsyncIterator[None]:
    """Consumes every tenant's events ingest topic while open."""

    async def forward(tenant_id: str, events: Sequence[tuple[str, Event]]) -> set[str]:
        failed = await publish_events(publisher, [e for _, e in events])
        return {events[int(i)][0] for i in failed}

    async with ingest.consuming(db, pubsub, IngestKind.EVENTS, event_of, forward, ingest.IngestSettings()) as log:
        app.state.ingest_log = log
        yield


@router.get("/{tenant_id}/errors")
async def errors(
    tenant_id: Identifier,
    log: IngestLogDep,
    limit: int = Query(100, ge=1, le=1000),
    kind: IngestKind | None = None,
) -> dict[str, Any]:
    """The tenant's recent ingest rejections (events and items), newest first, with the counts per kind."""
    return {
        "tenant_id": tenant_id,
        "counts": await log.counts(tenant_id),
        "errors": await log.errors(tenant_id, limit, kind),
    }
