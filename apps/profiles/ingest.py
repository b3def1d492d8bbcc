"""The events-topic consumer (the old Flink job's entry): each event goes to its user's actor (the events app
archives them through its own subscription).

Replies follow Dapr's pub/sub contract: SUCCESS acknowledges, RETRY asks for redelivery, DROP sends the
message to the subscription's dead-letter topic (nothing is silently lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from actors.user_profile import ACTOR_TYPE, UserProfileActorInterface
from apps.profiles.realtime import HotCounter, ItemFeatures
from apps.shared.actor_client import actor_proxy
from apps.shared.observability import ACTOR_UPDATES
from apps.shared.subscriptions import bulk_messages, bulk_reply
from lemo.events import Event, user_actor_id
from lemo.realtime.messages import EventForActor, RecordEvents
from lemo.stores.ports import UserRegistration

logger = logging.getLogger(__name__)

SUCCESS = {"status": "SUCCESS"}
RETRY = {"status": "RETRY"}
DROP = {"status": "DROP"}

# Tries of one actor turn before its events are answered RETRY.
TURN_ATTEMPTS = 3


class KnownUsers:
    """Creates users seen first in an event (documented: events for unknown users create them implicitly),
    remembering recent ones so a busy user costs one database write, not one per event."""

    def __init__(self, users: UserRegistration, capacity: int = 100_000) -> None:
        self._users = users
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    async def ensure(self, tenant_id: str, user_ids: Iterable[str]) -> None:
        """Creates those of the tenant's users not seen lately and not stored yet (one query for all of them)."""
        unseen = []
        for user_id in dict.fromkeys(user_ids):
            key = user_actor_id(tenant_id, user_id)
            if key in self._seen:
                self._seen.move_to_end(key)
            else:
                unseen.append(user_id)
        if not unseen:
            return
        await self._users.ensure_many(tenant_id, unseen)
        for user_id in unseen:
            self._seen[user_actor_id(tenant_id, user_id)] = None
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)


@dataclass(frozen=True)
class Realtime:
    """What the events consumer updates besides the user's actor, and how many actor turns it runs at once."""

    users: KnownUsers
    items: ItemFeatures
    hot: HotCounter
    turns: asyncio.Semaphore


async def ingest_bulk(raw: bytes, rt: Realtime) -> dict[str, Any]:
    """A bulk delivery from the events topic, as its bytes: one actor turn per user (all of that user's events, in
    order). An entry is acknowledged once its actor holds it; a redelivered entry is harmless (the actor remembers
    event ids); one that is no event goes to the dead-letter topic."""
    events, malformed = bulk_messages(raw, Event)
    statuses: dict[str, str] = dict.fromkeys(malformed, DROP["status"])
    if malformed:
        logger.warning("rejecting %d malformed events: %s", len(malformed), malformed[:3])
    by_user: dict[str, list[tuple[str, Event]]] = {}
    for entry_id, event in events:
        by_user.setdefault(event.actor_id, []).append((entry_id, event))
    # In the order the events app accepted them, not the stream's: a bulk publish lands its entries on the stream
    # concurrently, and the actor's dedupe watermark (lemo/realtime/dedupe.py) assumes acceptance order; a user's 30
    # events of one batch taken in stream order lost 6 of them as "seen". Unstamped events keep their place.
    for batch in by_user.values():
        if all(e.accepted_at is not None for _, e in batch):
            batch.sort(key=lambda entry: entry[1].accepted_at or 0.0)

    by_tenant: dict[str, set[str]] = {}
    for batch in by_user.values():
        by_tenant.setdefault(batch[0][1].tenant_id, set()).update(e.item_id for _, e in batch)
    keys: dict[str, dict[str, list[str]]] = {}
    try:
        for tenant_id, item_ids in by_tenant.items():
            keys[tenant_id] = await rt.items.keys_many(tenant_id, item_ids)
    except Exception:
        logger.exception("item features of %d events not read; asking for redelivery", len(statuses))
        retry = {entry_id: RETRY["status"] for b in by_user.values() for entry_id, _ in b}
        return bulk_reply({**statuses, **retry})

    async def record(actor_id: str, batch: list[tuple[str, Event]]) -> None:
        message = RecordEvents(events=[EventForActor(event=e, keys=keys[e.tenant_id][e.item_id]) for _, e in batch])
        payload = message.encode()  # its JSON, as it travels (lemo/realtime/messages.py)
        proxy = actor_proxy(ACTOR_TYPE, actor_id, UserProfileActorInterface)
        try:
            # A failed call is tried again here before the entries go back to the broker: a turn is idempotent (the
            # actor skips event ids it has seen), and the sidecar's call into the actor can meet a kept-alive
            # connection the app server is closing that moment ("connection reset by peer"). A bulk entry answered
            # RETRY is not redelivered by every pub/sub component; some send it to the dead-letter topic.
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(TURN_ATTEMPTS), wait=wait_exponential(multiplier=0.2, max=2), reraise=True
            ):
                with attempt:
                    async with rt.turns:
                        is_new = await proxy.RecordEvents(payload)
        except Exception:
            ACTOR_UPDATES.labels("retry").inc(len(batch))
            logger.exception("events for %s not recorded yet; asking for redelivery", actor_id)
            statuses.update({entry_id: RETRY["status"] for entry_id, _ in batch})
            return
        ACTOR_UPDATES.labels("applied").inc(sum(1 for new in is_new if new))
        ACTOR_UPDATES.labels("duplicate").inc(sum(1 for new in is_new if not new))
        for (entry_id, event), new in zip(batch, is_new, strict=True):
            statuses[entry_id] = SUCCESS["status"]
            if new:
                rt.hot.count(event)

    await asyncio.gather(*(record(a, b) for a, b in by_user.items()))
    users: dict[str, list[str]] = {}
    for batch in by_user.values():
        users.setdefault(batch[0][1].tenant_id, []).append(batch[0][1].user_id)
    try:
        for tenant_id, user_ids in users.items():
            await rt.users.ensure(tenant_id, user_ids)
    except Exception:
        logger.exception("implicit users of %d events not stored; asking for redelivery", len(statuses))
        statuses.update({entry_id: RETRY["status"] for b in by_user.values() for entry_id, _ in b})
    return bulk_reply(statuses)
