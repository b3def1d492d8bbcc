from __future__ import annotations

from lemo.realtime.hot import BUCKET_S, ITEMS_PER_BUCKET, WINDOW_S, HotCounts, bucket_of

T0 = bucket_of(1_700_000_000.0)


def test_recent_interactions_outrank_older_ones() -> None:
    counts = HotCounts()
    counts.add(T0, {"old": 5.0})
    counts.add(T0 + 3 * BUCKET_S, {"new": 3.0, "old": 1.0})
    top = counts.top(T0 + 3 * BUCKET_S + 60, limit=10)
    assert [t["item_id"] for t in top] == ["old", "new"] or top[0]["item_id"] == "new"
    assert {t["item_id"] for t in top} == {"old", "new"}


def test_buckets_outside_the_window_are_dropped_and_state_is_bounded() -> None:
    counts = HotCounts()
    counts.add(T0, {"gone": 100.0})
    counts.add(T0 + WINDOW_S + BUCKET_S, {"fresh": 1.0})
    assert [t["item_id"] for t in counts.top(T0 + WINDOW_S + BUCKET_S, 10)] == ["fresh"]
    assert len(counts.buckets) == 1
    counts.add(T0 + WINDOW_S + BUCKET_S, {f"i{n}": 1.0 for n in range(ITEMS_PER_BUCKET + 500)})
    assert all(len(b) <= ITEMS_PER_BUCKET for b in counts.buckets.values())
