"""The events-topic consumer (the old Flink job's entry): each event goes to its user's actor and the archive.

Replies follow Dapr's pub/sub contract: SUCCESS acknowledges, RETRY asks for redelivery, DROP sends the
message to the subscription's dead-letter topic (nothing is silently lost).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from dapr.actor import ActorId, ActorProxy
from pydantic import ValidationError

from actors.user_profile import ACTOR_TYPE, UserProfileActorInterface
from apps.profiles.realtime import HotCounter, ItemFeatures
from lemo.events import Event, user_actor_id
from lemo.stores.mongo import EventArchive, UserRepository

logger = logging.getLogger(__name__)

SUCCESS = {"status": "SUCCESS"}
RETRY = {"status": "RETRY"}
DROP = {"status": "DROP"}


class KnownUsers:
    """Creates users seen first in an event (documented: events for unknown users create them implicitly),
    remembering recent ones so a busy user costs one database write, not one per event."""

    def __init__(self, users: UserRepository, capacity: int = 100_000) -> None:
        self._users = users
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    async def ensure(self, tenant_id: str, user_id: str) -> None:
        key = user_actor_id(tenant_id, user_id)
        if key in self._seen:
            self._seen.move_to_end(key)
            return
        await self._users.ensure(tenant_id, user_id)
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)


@dataclass(frozen=True)
class Realtime:
    """What the events consumer updates besides the user's actor."""

    archive: EventArchive
    users: KnownUsers
    items: ItemFeatures
    hot: HotCounter


async def ingest_event(cloud_event: dict[str, Any], rt: Realtime) -> dict[str, str]:
    try:
        event = Event.model_validate(cloud_event.get("data"))
    except ValidationError as exc:
        logger.warning("rejecting malformed event %s: %s", cloud_event.get("id"), exc.errors()[:3])
        return DROP
    try:
        keys = await rt.items.keys(event.tenant_id, event.item_id)
        proxy = ActorProxy.create(ACTOR_TYPE, ActorId(event.actor_id), UserProfileActorInterface)
        is_new = await proxy.RecordEvent({"event": event.model_dump(mode="json"), "keys": keys})
        await rt.archive.append(event)
        await rt.users.ensure(event.tenant_id, event.user_id)
        if is_new:
            rt.hot.count(event)
    except Exception:
        logger.exception(
            "event %s not recorded yet; asking for redelivery",
            event.event_id,
            extra={"tenant_id": event.tenant_id},
        )
        return RETRY
    return SUCCESS


async def keep_dead_letter(cloud_event: dict[str, Any], dead_letters: Any) -> dict[str, str]:
    """Dead letters are kept in MongoDB for inspection and replay."""
    logger.warning("dead letter %s: %s", cloud_event.get("id"), json.dumps(cloud_event, default=str)[:2000])
    await dead_letters.insert_one(
        {
            "cloud_event_id": cloud_event.get("id"),
            "topic": cloud_event.get("topic"),
            "data": cloud_event.get("data"),
            "received": cloud_event,
        }
    )
    return SUCCESS
