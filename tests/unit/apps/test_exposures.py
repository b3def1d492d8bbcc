"""apps/gateway/exposures.py: one record per served list, published in bulk onto the exposures topic, flushed by
time or size; a failed publish loses only its own batch and never raises into a request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from apps.gateway.exposures import ExposureBuffer
from apps.shared.publish import Entry
from apps.shared.settings import EXPOSURES_TOPIC
from lemo.exposures import Exposure


class Broker:
    def __init__(self, fail_calls: int = 0, refuse: set[str] | None = None) -> None:
        self.published: list[tuple[str, list[dict[str, object]]]] = []
        self.fail_calls = fail_calls
        self.refuse = refuse or set()
        self.partition_keys: list[str] = []

    async def publish_bulk(self, topic: str, entries: Sequence[Entry]) -> dict[str, str]:
        if self.fail_calls:
            self.fail_calls -= 1
            raise RuntimeError("sidecar unreachable")
        self.published.append((topic, [e.data for e in entries]))
        self.partition_keys += [e.metadata["partitionKey"] for e in entries]
        return {e.entry_id: "refused" for e in entries if e.data["request_id"] in self.refuse}


def _list(request_id: str, tenant: str = "a", user: str = "u1") -> Exposure:
    return Exposure(
        request_id=request_id,
        tenant_id=tenant,
        user_id=user,
        scenario="home",
        variant="control",
        items=["10", "11", "12"],
        timestamp=1.0,
    )


def _ids(broker: Broker) -> list[list[object]]:
    return [[d["request_id"] for d in batch] for _, batch in broker.published]


async def test_lists_wait_and_leave_in_one_bulk_publish_to_the_exposures_topic() -> None:
    broker = Broker()
    buffer = ExposureBuffer(broker, flush_s=0.05, max_lists=100)
    buffer.add(_list("r1"))
    buffer.add(_list("r2", tenant="b"))
    buffer.add(_list("r3"))
    assert broker.published == []
    await asyncio.sleep(0.15)
    assert [topic for topic, _ in broker.published] == [EXPOSURES_TOPIC]
    assert _ids(broker) == [["r1", "r2", "r3"]]
    # One record per list, the items in served order (position = index), and partitioned by the user's actor.
    assert broker.published[0][1][0]["items"] == ["10", "11", "12"]
    assert broker.partition_keys == ["a:u1", "b:u1", "a:u1"]


async def test_a_full_buffer_flushes_at_once_and_close_sends_the_rest() -> None:
    broker = Broker()
    buffer = ExposureBuffer(broker, flush_s=60, max_lists=2)
    buffer.add(_list("r1"))
    buffer.add(_list("r2"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert _ids(broker) == [["r1", "r2"]]
    buffer.add(_list("r3"))
    await buffer.close()
    assert _ids(broker)[-1] == ["r3"]


async def test_a_failed_publish_loses_only_its_batch() -> None:
    broker = Broker(fail_calls=1, refuse={"r4"})
    buffer = ExposureBuffer(broker, flush_s=60, max_lists=100)
    buffer.add(_list("r1"))
    await buffer.close()  # the sidecar is down: logged and dropped, nothing raised
    buffer.add(_list("r2"))
    buffer.add(_list("r4"))  # refused by the broker: logged, the rest of the batch went
    await buffer.close()
    assert _ids(broker) == [["r2", "r4"]]
