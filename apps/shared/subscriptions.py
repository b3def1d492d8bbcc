"""Programmatic pub/sub subscriptions (served at GET /dapr/subscribe), including bulk delivery, which the SDK's
DaprApp helper does not offer. Handlers reply with Dapr's statuses: SUCCESS, RETRY, or DROP (-> dead letter).

A bulk delivery is decoded once, from its bytes, by pydantic's core straight into each entry's typed message
(`bulk_messages`): no JSON parse into dicts first, no second validation of what the topic's publisher validated
(docs/data-plane.md, "One validation")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

Message = TypeVar("Message", bound=BaseModel)


def bulk_entries(body: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(entryId, the CloudEvent's data) of each entry of a bulk delivery; data is None when the entry has none."""
    for entry in body.get("entries") or []:
        cloud_event = entry.get("event")
        yield str(entry.get("entryId")), cloud_event.get("data") if isinstance(cloud_event, dict) else None


class _CloudEvent(BaseModel, Generic[Message]):
    model_config = ConfigDict(extra="ignore")

    data: Message


class _BulkEntry(BaseModel, Generic[Message]):
    model_config = ConfigDict(extra="ignore")

    entryId: str  # Dapr's name
    event: _CloudEvent[Message]


class _BulkDelivery(BaseModel, Generic[Message]):
    model_config = ConfigDict(extra="ignore")

    entries: list[_BulkEntry[Message]] = []


@cache
def _delivery_of(schema: type[Message]) -> TypeAdapter[_BulkDelivery[Message]]:
    return TypeAdapter(_BulkDelivery[schema])  # type: ignore[valid-type]


def bulk_messages(raw: bytes, schema: type[Message]) -> tuple[list[tuple[str, Message]], list[str]]:
    """Each entry of a bulk delivery as (entryId, its message decoded into `schema`), in delivery order, and the
    entryIds of those that are not one (malformed: answer them DROP or leave them, as the consumer's contract
    says). One pass of pydantic's core over the bytes; only a delivery holding a malformed entry is decoded again,
    entry by entry, to tell which."""
    try:
        delivery = _delivery_of(schema).validate_json(raw)
        return [(e.entryId, e.event.data) for e in delivery.entries], []
    except ValidationError:
        pass
    good: list[tuple[str, Message]] = []
    malformed: list[str] = []
    body = json.loads(raw)
    for entry_id, data in bulk_entries(body if isinstance(body, dict) else {}):
        try:
            good.append((entry_id, schema.model_validate(data)))
        except ValidationError:
            malformed.append(entry_id)
    return good, malformed


def bulk_reply(statuses: Mapping[str, str]) -> dict[str, Any]:
    """The answer to a bulk delivery: entryId -> SUCCESS, RETRY or DROP."""
    return {"statuses": [{"entryId": k, "status": v} for k, v in statuses.items()]}


class Subscriptions:
    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._list: list[dict[str, Any]] = []
        app.add_api_route("/dapr/subscribe", self._subscriptions, methods=["GET"], include_in_schema=False)

    def add(
        self,
        pubsub: str,
        topic: str,
        handler: Callable[..., Any],
        *,
        dead_letter_topic: str | None = None,
        bulk_max_messages: int | None = None,
        bulk_max_await_ms: int = 50,
    ) -> None:
        route = f"/events/{pubsub}/{topic}"
        self._app.add_api_route(route, handler, methods=["POST"], tags=["subscriptions"])
        subscription: dict[str, Any] = {"pubsubname": pubsub, "topic": topic, "route": route}
        if dead_letter_topic:
            subscription["deadLetterTopic"] = dead_letter_topic
        if bulk_max_messages:
            subscription["bulkSubscribe"] = {
                "enabled": True,
                "maxMessagesCount": bulk_max_messages,
                "maxAwaitDurationMs": bulk_max_await_ms,
            }
        self._list.append(subscription)

    async def _subscriptions(self) -> list[dict[str, Any]]:
        return self._list
