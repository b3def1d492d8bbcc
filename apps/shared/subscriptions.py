"""Programmatic pub/sub subscriptions (served at GET /dapr/subscribe), including bulk delivery, which the SDK's
DaprApp helper does not offer. Handlers reply with Dapr's statuses: SUCCESS, RETRY, or DROP (-> dead letter)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


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
