"""The profiles app's operations for its routes: users (documents in MongoDB, realtime features in the user's
actor), and the events subscription's dead letters (kept, listed, replayed)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import status
from pymongo.asynchronous.collection import AsyncCollection

from actors.user_profile import ACTOR_TYPE, UserProfileActorInterface
from apps.profiles.attributes import AttributeCache
from apps.shared.actor_client import actor_proxy
from apps.shared.errors import ApiError
from apps.shared.publish import Entry, Publisher
from apps.shared.settings import EVENTS_TOPIC, shared_settings
from apps.shared.sidecar import sidecar_http
from lemo.events import user_actor_id
from lemo.stores.ports import UserDirectory

logger = logging.getLogger(__name__)


def _actor(tenant_id: str, user_id: str) -> Any:
    return actor_proxy(ACTOR_TYPE, user_actor_id(tenant_id, user_id), UserProfileActorInterface)


def _not_found(user_id: str) -> ApiError:
    return ApiError(status.HTTP_404_NOT_FOUND, "user_not_found", f"no user {user_id}", user_id=user_id)


class Profiles:
    """Users: every write forgets the user's cached attributes after it (a read in between cannot keep the old
    ones), and a deleted user's actor forgets its realtime profile."""

    def __init__(self, users: UserDirectory, attributes: AttributeCache) -> None:
        self._users = users
        self._attributes = attributes

    async def page(
        self, tenant_id: str, prefix: str | None, after: str | None, limit: int, total: bool
    ) -> dict[str, Any]:
        """One page of users (ids starting with `prefix`), with the cursor of the next (None on the last page)."""
        page = await self._users.list(tenant_id, prefix=prefix, after=after, limit=limit)
        body: dict[str, Any] = {"users": page, "next": page[-1]["user_id"] if len(page) == limit else None}
        if total:
            body["total"] = await self._users.count(tenant_id, prefix=prefix)
        return body

    async def upsert(self, tenant_id: str, user_id: str, attributes: dict[str, Any] | None) -> dict[str, Any]:
        """Creates the user or merges the given attributes into it."""
        user = await self._users.upsert(tenant_id, user_id, attributes)
        self._attributes.forget(tenant_id, user_id)
        return user

    async def update(self, tenant_id: str, user_id: str, attributes: dict[str, Any] | None) -> dict[str, Any]:
        """Merges the given attributes into an existing user; 404 when there is none."""
        if await self._users.get(tenant_id, user_id) is None:
            raise _not_found(user_id)
        return await self.upsert(tenant_id, user_id, attributes)

    async def get(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        user = await self._users.get(tenant_id, user_id)
        if user is None:
            raise _not_found(user_id)
        return user

    async def delete(self, tenant_id: str, user_id: str) -> None:
        """Deletes the user and their realtime profile; 404 when there is none."""
        if not await self._users.delete(tenant_id, user_id):
            raise _not_found(user_id)
        self._attributes.forget(tenant_id, user_id)
        await _actor(tenant_id, user_id).Forget()

    async def get_many(self, tenant_id: str, user_ids: list[str]) -> dict[str, Any]:
        """The users found, in the order asked, and the ids of those missing."""
        found = {u["user_id"]: u for u in await self._users.get_many(tenant_id, user_ids)}
        return {"users": [found[u] for u in user_ids if u in found], "missing": [u for u in user_ids if u not in found]}

    async def realtime(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        profile: dict[str, Any] = await _actor(tenant_id, user_id).GetProfile()
        return {"tenant_id": tenant_id, "user_id": user_id, **profile}

    async def context(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        """Realtime features (actor) and stored attributes (cached a short while), fetched concurrently; an
        unknown user gets empty ones (a new user still gets recommendations)."""
        profile, attributes = await asyncio.gather(
            _actor(tenant_id, user_id).GetProfile(), self._attributes.attributes(tenant_id, user_id)
        )
        return {
            "user_id": user_id,
            "recent_items": profile.get("recent_items", []),
            "interests": profile.get("interests", {}),
            "shown_items": profile.get(
                "shown_items", []
            ),  # recently served lists, newest first (exclude-seen, fatigue)
            "attributes": attributes,
        }


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


class DeadLetterQueue:
    """What the events subscription gave up on (apps/profiles/deadletters.py says when), kept in MongoDB."""

    def __init__(self, dead_letters: AsyncCollection[dict[str, Any]]) -> None:
        self._dead_letters = dead_letters

    async def keep(self, cloud_event: dict[str, Any]) -> None:
        """Keeps a dead letter for inspection and replay."""
        logger.warning("dead letter %s: %s", cloud_event.get("id"), json.dumps(cloud_event, default=str)[:2000])
        await self._dead_letters.insert_one(
            {
                "cloud_event_id": cloud_event.get("id"),
                "topic": cloud_event.get("topic"),
                "data": cloud_event.get("data"),
                "received": cloud_event,
            }
        )

    async def oldest(self, tenant_id: str | None, limit: int) -> dict[str, Any]:
        """How many dead letters are kept (for one tenant, or all) and the oldest `limit` of them."""
        query = _query(tenant_id)
        docs = await self._dead_letters.find(query).sort("_id", 1).limit(limit).to_list(limit) if limit else []
        return {"count": await self._dead_letters.count_documents(query), "items": [_summary(d) for d in docs]}

    async def replay(self, tenant_id: str | None, limit: int) -> dict[str, Any]:
        """Publishes the oldest `limit` dead letters to the events topic again and forgets those the broker took."""
        docs = await self._dead_letters.find(_query(tenant_id)).sort("_id", 1).limit(limit).to_list(limit)
        entries, unreplayable = [], []
        for doc in docs:
            data = doc.get("data")
            if isinstance(data, dict):
                key = user_actor_id(str(data.get("tenant_id")), str(data.get("user_id")))
                # Without its first acceptance stamp: the user's actor has moved its watermark past it meanwhile
                # and would take it as seen; an unstamped event is deduped by its id alone (lemo/realtime/dedupe.py).
                data = {k: v for k, v in data.items() if k != "accepted_at"}
                entries.append(Entry(str(doc["_id"]), data, {"partitionKey": key}))
            else:
                unreplayable.append(str(doc["_id"]))
        async with sidecar_http() as http:  # a replay is rare: its own client, closed after
            failed = await Publisher(http, shared_settings().pubsub_name).publish_bulk(EVENTS_TOPIC, entries)
        replayed = [d["_id"] for d in docs if str(d["_id"]) not in failed and str(d["_id"]) not in unreplayable]
        if replayed:
            await self._dead_letters.delete_many({"_id": {"$in": replayed}})
        return {
            "replayed": len(replayed),
            "failed": [{"id": k, "error": v} for k, v in failed.items()],
            "unreplayable": unreplayable,
            "left": await self._dead_letters.count_documents(_query(tenant_id)),
        }
