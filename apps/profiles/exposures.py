"""The exposures-topic consumer: served lists go to their users' actors, one turn per user per delivery.

A list only updates the user's recently shown items (lemo/realtime/profile.py, `apply_exposure`): never interest,
recent items, type counts or item popularity. Each list is taken at most once (the actor remembers its request id).
Replies follow Dapr's bulk contract: SUCCESS once the actor holds the list, RETRY when the turn failed, DROP for a
malformed record (the subscription has no dead-letter topic: exposures are best-effort telemetry).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from actors.user_profile import ACTOR_TYPE, UserProfileActorInterface
from apps.profiles.ingest import TURN_ATTEMPTS  # a turn is idempotent: tried as often as an events turn
from apps.shared.actor_client import actor_proxy
from apps.shared.subscriptions import bulk_messages, bulk_reply
from lemo.exposures import Exposure
from lemo.realtime.messages import RecordExposures

logger = logging.getLogger(__name__)


async def ingest_exposures_bulk(raw: bytes, turns: asyncio.Semaphore) -> dict[str, Any]:
    """A bulk delivery from the exposures topic, as its bytes (decoded once, apps/shared/subscriptions.py): one actor
    turn per user, with all of that user's lists."""
    lists, malformed = bulk_messages(raw, Exposure)
    statuses = dict.fromkeys(malformed, "DROP")
    if malformed:
        logger.warning("dropping %d malformed exposures: %s", len(malformed), malformed[:3])
    by_user: dict[str, list[tuple[str, Exposure]]] = {}
    for entry_id, exposure in lists:
        by_user.setdefault(exposure.actor_id, []).append((entry_id, exposure))

    async def record(actor_id: str, lists: list[tuple[str, Exposure]]) -> None:
        proxy = actor_proxy(ACTOR_TYPE, actor_id, UserProfileActorInterface)
        payload = RecordExposures(exposures=[e for _, e in lists]).encode()  # its JSON, as it travels
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(TURN_ATTEMPTS), wait=wait_exponential(multiplier=0.2, max=2), reraise=True
            ):
                with attempt:
                    async with turns:
                        await proxy.RecordExposures(payload)
        except Exception:
            logger.exception("%d exposures for %s not recorded yet; asking for redelivery", len(lists), actor_id)
            statuses.update({entry_id: "RETRY" for entry_id, _ in lists})
            return
        statuses.update({entry_id: "SUCCESS" for entry_id, _ in lists})

    await asyncio.gather(*(record(actor_id, lists) for actor_id, lists in by_user.items()))
    return bulk_reply(statuses)
