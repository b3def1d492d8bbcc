"""/deadletters: what the events subscription gave up on, listed and put back on the events topic once fixed.

An event reaches the dead letter when the profiles consumer answers DROP (it does not parse) or when every
redelivery the Resiliency policy allows has failed (components/resiliency.yaml). Replaying publishes the kept
events to the events topic again, in bulk, and forgets those the broker took; their consumers are idempotent (the
archive keys on tenant + event_id, the user actor remembers event ids), so a replay never counts an event twice.
An event that still does not parse comes back here with a new dead letter.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from apps.profiles.deps import DeadLetters
from apps.shared.publish import Entry, Publisher
from apps.shared.settings import EVENTS_TOPIC, shared_settings
from apps.shared.sidecar import sidecar_http
from lemo.events import Identifier, user_actor_id

router = APIRouter(prefix="/deadletters", tags=["dead letters"])

MAX_REPLAY = 1000


def _query(tenant_id: str | None) -> dict[str, Any]:
    return {"data.tenant_id": tenant_id} if tenant_id else {}


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    data = doc["data"] if isinstance(doc.get("data"), dict) else {}
    return {
        "id": str(doc["_id"]),
        "topic": doc.get("topic"),
        "tenant_id": data.get("tenant_id"),
        "event_id": data.get("event_id"),
        "data": doc.get("data"),
    }


@router.get("")
async def list_dead_letters(
    dead_letters: DeadLetters,
    tenant_id: Identifier | None = None,
    limit: int = Query(20, ge=0, le=MAX_REPLAY),
) -> dict[str, Any]:
    """How many dead letters are kept (for one tenant, or all) and the oldest `limit` of them."""
    query = _query(tenant_id)
    docs = await dead_letters.find(query).sort("_id", 1).limit(limit).to_list(limit) if limit else []
    return {"count": await dead_letters.count_documents(query), "items": [_summary(d) for d in docs]}


@router.post("/replay")
async def replay_dead_letters(
    dead_letters: DeadLetters,
    tenant_id: Identifier | None = None,
    limit: int = Query(MAX_REPLAY, ge=1, le=MAX_REPLAY),
) -> dict[str, Any]:
    """Publishes the oldest `limit` dead letters to the events topic again and forgets those the broker took."""
    docs = await dead_letters.find(_query(tenant_id)).sort("_id", 1).limit(limit).to_list(limit)
    entries, unreplayable = [], []
    for doc in docs:
        data = doc.get("data")
        if isinstance(data, dict):
            key = user_actor_id(str(data.get("tenant_id")), str(data.get("user_id")))
            # Without its first acceptance stamp: the user's actor has moved its watermark past it meanwhile and
            # would take it as seen; an unstamped event is deduped by its id alone (lemo/realtime/dedupe.py).
            data = {k: v for k, v in data.items() if k != "accepted_at"}
            entries.append(Entry(str(doc["_id"]), data, {"partitionKey": key}))
        else:
            unreplayable.append(str(doc["_id"]))
    async with sidecar_http() as http:  # a replay is rare: its own client, closed after
        failed = await Publisher(http, shared_settings().pubsub_name).publish_bulk(EVENTS_TOPIC, entries)
    replayed = [doc["_id"] for doc in docs if str(doc["_id"]) not in failed and str(doc["_id"]) not in unreplayable]
    if replayed:
        await dead_letters.delete_many({"_id": {"$in": replayed}})
    return {
        "replayed": len(replayed),
        "failed": [{"id": k, "error": v} for k, v in failed.items()],
        "unreplayable": unreplayable,
        "left": await dead_letters.count_documents(_query(tenant_id)),
    }
