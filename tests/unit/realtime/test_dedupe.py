"""lemo/realtime/dedupe.py: ids taken once, whatever came between, in bounded space."""

from __future__ import annotations

import random

from lemo.realtime.dedupe import GENERATION, SeenIds


def test_an_id_is_taken_once_even_a_hundred_ids_later() -> None:
    seen = SeenIds()
    assert seen.first_time("e0", 1.0) is True
    for n in range(1, 101):
        assert seen.first_time(f"e{n}", 1.0 + n) is True
    assert len(seen) <= 2 * GENERATION  # bounded: the floor, not the digests, remembers e0
    assert seen.first_time("e0", 1.0) is False
    assert seen.first_time("e100", 101.0) is False  # a recent one, by its digest


def test_redeliveries_in_any_order_are_never_taken_twice_and_fresh_ids_always_are() -> None:
    rng = random.Random(7)
    seen = SeenIds()
    taken: set[str] = set()
    delivered: list[tuple[str, float]] = []
    for n in range(3000):
        fresh = (f"e{n}", float(n))
        assert seen.first_time(*fresh) is True  # in acceptance order, a new id is always taken
        taken.add(fresh[0])
        delivered.append(fresh)
        if rng.random() < 0.3:  # a redelivery of anything delivered before, however long ago
            again = rng.choice(delivered)
            assert seen.first_time(*again) is False
    assert len(taken) == 3000


def test_ids_without_an_order_key_are_deduped_by_their_digests() -> None:
    seen = SeenIds()
    assert seen.first_time("direct", None) is True
    assert seen.first_time("direct", None) is False
    assert seen.floor == 0.0


def test_a_slightly_late_id_is_still_taken() -> None:
    # Reordering within the held generations is fine: the late one is above the floor.
    seen = SeenIds()
    for n in range(GENERATION):
        seen.first_time(f"e{n}", 100.0 + n)
    assert seen.first_time("late", 99.5) is True
