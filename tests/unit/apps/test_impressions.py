"""apps/gateway/impressions.py: lists are batched per tenant, flushed by time or size, and a failing send loses
only its own batch."""

from __future__ import annotations

import asyncio
from typing import Any

from apps.gateway.impressions import ImpressionBuffer


class Sink:
    def __init__(self, fail_for: str = "") -> None:
        self.batches: list[tuple[str, list[str]]] = []
        self.fail_for = fail_for

    async def __call__(self, tenant_id: str, events: list[dict[str, Any]]) -> None:
        if tenant_id == self.fail_for:
            raise RuntimeError("events app down")
        self.batches.append((tenant_id, [e["item_id"] for e in events]))


def _events(*items: str) -> list[dict[str, Any]]:
    return [{"item_id": i} for i in items]


async def test_lists_wait_and_leave_as_one_batch_per_tenant() -> None:
    sink = Sink()
    buffer = ImpressionBuffer(sink, flush_s=0.05, max_events=100)
    buffer.add("a", _events("1", "2"))
    buffer.add("b", _events("3"))
    buffer.add("a", _events("4"))
    assert sink.batches == []
    await asyncio.sleep(0.15)
    assert sorted(sink.batches) == [("a", ["1", "2", "4"]), ("b", ["3"])]


async def test_a_full_buffer_flushes_at_once_and_close_sends_the_rest() -> None:
    sink = Sink()
    buffer = ImpressionBuffer(sink, flush_s=60, max_events=3)
    buffer.add("a", _events("1", "2", "3"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sink.batches == [("a", ["1", "2", "3"])]
    buffer.add("a", _events("4"))
    await buffer.close()
    assert sink.batches[-1] == ("a", ["4"])


async def test_a_failing_tenant_batch_does_not_lose_the_others() -> None:
    sink = Sink(fail_for="a")
    buffer = ImpressionBuffer(sink, flush_s=60, max_events=100)
    buffer.add("a", _events("1"))
    buffer.add("b", _events("2"))
    await buffer.close()
    assert sink.batches == [("b", ["2"])]
