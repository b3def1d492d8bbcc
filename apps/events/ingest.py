"""Events from the tenants' ingest topics (`ingest.<tenant>.events`, lemo/ingest.py): validated as the HTTP API
validates them, for the topic's tenant, then stamped and published onto the internal events topic exactly as
`POST /events/_batch` does; rejections are recorded and listed at GET /ingest/{tenant_id}/errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Query

from apps.events.deps import IngestErrorsDep
from apps.events.service import Intake
from apps.shared import ingest
from lemo.events import Event, Identifier
from lemo.ingest import IngestKind, event_of
from lemo.stores.ports import IngestRecorder

router = APIRouter(prefix="/ingest", tags=["ingest"])


@asynccontextmanager
async def consuming(
    log: IngestRecorder, tenants: Callable[[], Awaitable[list[str]]], intake: Intake, pubsub: str
) -> AsyncIterator[None]:
    """Consumes every tenant's events ingest topic while open, recording rejections in `log`."""

    async def forward(tenant_id: str, events: Sequence[tuple[str, Event]]) -> set[str]:
        failed = await intake.publish([e for _, e in events])
        return {events[int(i)][0] for i in failed}

    async with ingest.consuming(log, tenants, pubsub, IngestKind.EVENTS, event_of, forward, ingest.IngestSettings()):
        yield


@router.get("/{tenant_id}/errors")
async def errors(
    tenant_id: Identifier,
    ingest_errors: IngestErrorsDep,
    limit: int = Query(100, ge=1, le=1000),
    kind: IngestKind | None = None,
) -> dict[str, Any]:
    """The tenant's recent ingest rejections (events and items), newest first, with the counts per kind."""
    return await ingest_errors.report(tenant_id, limit, kind)
