"""The realtime user profile kept in each per-user actor (the old Flink job's per-user state).

Bounded by construction (target <= 1 KB of JSON per user) and idempotent per event_id:
- recent items, newest last;
- counts per event type, and the last active time;
- category/tag counts over a sliding 1-hour window, kept as a few time buckets of the top keys;
- a long-term interest vector over categories and tags, exponentially decayed (7-day half-life);
- recently shown items, from the served lists (exposures) the gateway logs: for exclude-seen and fatigue, never
  interest;
- which events and lists it took (lemo/realtime/dedupe.py), so a redelivery changes nothing, however late.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from pydantic import BaseModel, Field

from lemo.events import Event, EventType
from lemo.exposures import Exposure
from lemo.realtime.dedupe import SeenIds

RECENT_ITEMS = 20
SHOWN_ITEMS = 10  # a list's worth: the state budget (1 KB per user) has no room for more
WINDOW_S = 3600.0
BUCKET_S = 900.0  # four 15-minute buckets make the sliding hour
# Top keys kept per bucket (was 5: the 1 KB state budget now also holds shown items and the dedupe watermark).
KEYS_PER_BUCKET = 4
INTEREST_KEYS = 10
INTEREST_HALF_LIFE_S = 7 * 86400.0

# How much one event of each type says about interest (impressions say nothing; dislikes push away).
INTEREST_WEIGHTS: dict[EventType, float] = {
    EventType.IMPRESSION: 0.0,
    EventType.VIEW: 1.0,
    EventType.CLICK: 1.0,
    EventType.LIKE: 3.0,
    EventType.DISLIKE: -2.0,
    EventType.RATE: 1.0,  # scaled by the rating, see _weight
    EventType.PURCHASE: 5.0,
    EventType.SHARE: 3.0,
}


def interest_keys(categories: list[str], tags: list[str]) -> list[str]:
    """Feature keys of an item: "c:<category>" and "t:<tag>"."""
    return [f"c:{c}" for c in categories] + [f"t:{t}" for t in tags]


class RealtimeProfile(BaseModel):
    # Short field names: this JSON is stored once per user.
    recent: list[str] = Field(default_factory=list)
    types: dict[str, int] = Field(default_factory=dict)
    last: float = 0.0
    # [[bucket_start, {key: count}], ...], oldest first.
    window: list[tuple[int, dict[str, int]]] = Field(default_factory=list)
    interests: dict[str, float] = Field(default_factory=dict)
    interests_at: float = 0.0
    # Recently shown items, the newest list first (each in served order).
    shown: list[str] = Field(default_factory=list)
    seen: SeenIds = Field(default_factory=SeenIds)

    def apply(self, event: Event, keys: list[str]) -> bool:
        """Folds one event (with its item's interest keys) in; False, changing nothing, for one already seen."""
        if not self.seen.first_time(event.event_id, event.accepted_at):
            return False
        self.types[event.type.value] = self.types.get(event.type.value, 0) + 1
        self.last = max(self.last, event.timestamp)
        if event.type is not EventType.IMPRESSION:
            if event.item_id in self.recent:
                self.recent.remove(event.item_id)
            self.recent = list(deque([*self.recent, event.item_id], maxlen=RECENT_ITEMS))
        if keys and event.type is not EventType.IMPRESSION:
            self._count_in_window(event.timestamp, keys)
        weight = _weight(event)
        if keys and weight != 0.0:
            self._add_interest(event.timestamp, keys, weight)
        return True

    def apply_exposure(self, exposure: Exposure) -> bool:
        """Folds one served list in: its items become the most recently shown. It says nothing about interest, so
        nothing else changes. False, changing nothing, for a list already taken (its request id is remembered
        like an event id; "/" cannot occur in an event id, so the two never meet)."""
        if not self.seen.first_time(f"x/{exposure.request_id}", exposure.timestamp):
            return False
        served = list(dict.fromkeys(exposure.items))
        earlier = [item for item in self.shown if item not in set(served)]
        self.shown = (served + earlier)[:SHOWN_ITEMS]
        return True

    def _count_in_window(self, ts: float, keys: list[str]) -> None:
        start = int(math.floor(ts / BUCKET_S) * BUCKET_S)  # whole seconds: stored once per bucket
        bucket = next((b for s, b in self.window if s == start), None)
        if bucket is None:
            bucket = {}
            self.window = sorted([*self.window, (start, bucket)], key=lambda sb: sb[0])
        for key in keys:
            bucket[key] = bucket.get(key, 0) + 1
        if len(bucket) > KEYS_PER_BUCKET:
            kept = sorted(bucket.items(), key=lambda kv: (-kv[1], kv[0]))[:KEYS_PER_BUCKET]
            bucket.clear()
            bucket.update(kept)
        newest = self.window[-1][0]
        self.window = [(s, b) for s, b in self.window if s > newest - WINDOW_S]

    def _add_interest(self, ts: float, keys: list[str], weight: float) -> None:
        now = max(ts, self.interests_at)
        decay = 0.5 ** ((now - self.interests_at) / INTEREST_HALF_LIFE_S) if self.interests_at else 1.0
        # An event older than the newest one counts less, as if it had decayed since.
        share = weight * 0.5 ** ((now - ts) / INTEREST_HALF_LIFE_S) / len(keys)
        scores = {k: v * decay for k, v in self.interests.items()}
        for key in keys:
            scores[key] = scores.get(key, 0.0) + share
        top = sorted(scores.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:INTEREST_KEYS]
        self.interests = {k: round(v, 3) for k, v in top if abs(v) >= 1e-3}
        self.interests_at = now

    def window_counts(self, now: float) -> dict[str, int]:
        """Category/tag counts of the last hour before `now`."""
        counts: dict[str, int] = {}
        for start, bucket in self.window:
            if start + BUCKET_S > now - WINDOW_S:
                for key, n in bucket.items():
                    counts[key] = counts.get(key, 0) + n
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def interests_at_time(self, now: float) -> dict[str, float]:
        decay = 0.5 ** (max(0.0, now - self.interests_at) / INTEREST_HALF_LIFE_S) if self.interests_at else 1.0
        decayed = ((k, round(v * decay, 4)) for k, v in sorted(self.interests.items(), key=lambda kv: -kv[1]))
        return {k: v for k, v in decayed if v != 0.0}  # long-faded interests are no longer interests

    def public_view(self, now: float) -> dict[str, Any]:
        """The realtime features as callers see them, most recent item first."""
        return {
            "recent_items": list(reversed(self.recent)),
            "type_counts": dict(self.types),
            "last_active": self.last,
            "window_1h": self.window_counts(now),
            "interests": self.interests_at_time(now),
            "shown_items": list(self.shown),
        }


def _weight(event: Event) -> float:
    base = INTEREST_WEIGHTS.get(event.type, 0.0)
    if event.type is EventType.RATE and event.value is not None:
        # A 1..5 rating: 3 is neutral, 5 strongly positive, 1 negative.
        return base * (event.value - 3.0)
    return base
