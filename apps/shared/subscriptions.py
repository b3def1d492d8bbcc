"""Programmatic pub/sub subscriptions (served at GET /dapr/subscribe), including bulk delivery, which the SDK's
DaprApp helper does not offer. Handlers reply with Dapr's statuses: SUCCESS, RETRY, or DROP (-> dead letter)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI


def bulk_entries(body: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(entryId, the CloudEvent's data) of each entry of a bulk delivery; data is None when the entry has none."""
    for entry in body.get("entries") or []:
        cloud_event = entry.get("event")
        yield str(entry.get("entryId")), cloud_event.get("data") if isinstance(cloud_event, dict) else None


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
