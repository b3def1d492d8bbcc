"""/events: validate a behavior event and publish it to the events topic; acknowledged only once published."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from dapr.aio.clients import DaprClient
from fastapi import APIRouter, HTTPException, Request, status

from apps.shared.settings import EVENTS_TOPIC
from lemo.events import Event

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/events", tags=["events"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def track(event: Event, request: Request) -> dict[str, Any]:
    client: DaprClient = request.app.state.dapr
    settings = request.app.state.settings
    try:
        await asyncio.wait_for(
            client.publish_event(
                settings.pubsub_name,
                EVENTS_TOPIC,
                json.dumps(event.model_dump(mode="json")),
                data_content_type="application/json",
                # Kafka keeps one user's events in order on one partition; Redis streams ignore it.
                publish_metadata={"partitionKey": event.actor_id},
            ),
            timeout=settings.publish_timeout_s,
        )
    except Exception as exc:
        logger.warning("publish of %s failed: %s", event.event_id, exc, extra={"tenant_id": event.tenant_id})
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={
                "code": "publish_failed",
                "message": "event not accepted; safe to retry with the same event_id",
                "event_id": event.event_id,
            },
        ) from exc
    return {"event_id": event.event_id, "status": "accepted"}
