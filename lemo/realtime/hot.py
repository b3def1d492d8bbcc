"""Windowed item popularity (the "hot" recall channel's source): weighted interaction counts per item in
10-minute buckets over the last hour, decayed so the latest minutes weigh most."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

BUCKET_S = 600.0
WINDOW_S = 3600.0
HALF_LIFE_S = 1800.0
# Items kept per bucket per shard; bounds the state whatever the catalog size.
ITEMS_PER_BUCKET = 2000


class HotCounts(BaseModel):
    # {bucket_start (as str, JSON keys): {item_id: weight}}
    buckets: dict[str, dict[str, float]] = Field(default_factory=dict)

    def add(self, bucket_start: float, counts: dict[str, float]) -> None:
        key = str(int(bucket_start))
        bucket = self.buckets.setdefault(key, {})
        for item_id, weight in counts.items():
            bucket[item_id] = round(bucket.get(item_id, 0.0) + weight, 4)
        if len(bucket) > ITEMS_PER_BUCKET:
            kept = sorted(bucket.items(), key=lambda kv: -kv[1])[:ITEMS_PER_BUCKET]
            self.buckets[key] = dict(kept)
        newest = max(int(k) for k in self.buckets)
        self.buckets = {k: b for k, b in self.buckets.items() if int(k) > newest - WINDOW_S}

    def top(self, now: float, limit: int) -> list[dict[str, Any]]:
        scores: dict[str, float] = {}
        for key, bucket in self.buckets.items():
            age = now - (int(key) + BUCKET_S / 2)
            if age > WINDOW_S:
                continue
            decay = 0.5 ** (max(0.0, age) / HALF_LIFE_S)
            for item_id, weight in bucket.items():
                scores[item_id] = scores.get(item_id, 0.0) + weight * decay
        ranked = sorted(((i, s) for i, s in scores.items() if s > 0), key=lambda p: (-p[1], p[0]))[:limit]
        return [{"item_id": i, "score": round(s, 4)} for i, s in ranked]


def bucket_of(ts: float) -> float:
    return math.floor(ts / BUCKET_S) * BUCKET_S
