"""The realtime user profile kept in each per-user actor: small, bounded, and idempotent per event_id."""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import BaseModel, Field

from lemo.events import Event

RECENT_ITEMS = 50
# Remembered event ids; a redelivery older than this many events ago would count twice, which at-least-once
# brokers do not do in practice (redeliveries follow within seconds).
SEEN_EVENT_IDS = 256


class RealtimeProfile(BaseModel):
    recent_items: list[str] = Field(default_factory=list)
    type_counts: dict[str, int] = Field(default_factory=dict)
    last_active: float = 0.0
    seen_event_ids: list[str] = Field(default_factory=list)

    def apply(self, event: Event) -> bool:
        """Folds one event into the profile; returns False (and changes nothing) for an event already seen."""
        if event.event_id in self.seen_event_ids:
            return False
        self.seen_event_ids = _bounded_append(self.seen_event_ids, event.event_id, SEEN_EVENT_IDS)
        self.type_counts[event.type.value] = self.type_counts.get(event.type.value, 0) + 1
        self.last_active = max(self.last_active, event.timestamp)
        if event.item_id in self.recent_items:
            self.recent_items.remove(event.item_id)
        self.recent_items = _bounded_append(self.recent_items, event.item_id, RECENT_ITEMS)
        return True

    def public_view(self) -> dict[str, Any]:
        """What callers see: everything but the dedupe bookkeeping, most recent item first."""
        return {
            "recent_items": list(reversed(self.recent_items)),
            "type_counts": dict(self.type_counts),
            "last_active": self.last_active,
        }


def _bounded_append(values: list[str], value: str, limit: int) -> list[str]:
    window = deque(values, maxlen=limit)
    window.append(value)
    return list(window)
