"""apps/shared/ingest.py consume_batch: the statuses of one delivery on an ingest topic, and what it records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from prometheus_client import REGISTRY

from apps.shared.ingest import consume_batch
from apps.shared.streams import StreamMessage
from lemo.events import Event
from lemo.ingest import IngestKind, event_of
from lemo.stores.ports import RejectedMessage


class FakeLog:
    """An in-memory IngestRecorder (lemo.stores.ports)."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[tuple[str, IngestKind, int, list[RejectedMessage]]] = []
        self.fail = fail

    async def record(
        self, tenant_id: str, kind: IngestKind, topic: str, accepted: int, rejected: Sequence[RejectedMessage]
    ) -> None:
        if self.fail:
            raise ConnectionError("store down")
        self.records.append((tenant_id, kind, accepted, list(rejected)))

    async def flush(self) -> None:
        pass


def _message(i: int, body: Any) -> StreamMessage:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return StreamMessage(f"m{i}", "ingest.a.events", data)


GOOD = {"user_id": "u1", "item_id": "i1", "type": "view"}


def _ingested(outcome: str) -> float:
    return REGISTRY.get_sample_value("lemo_ingest_messages_total", {"kind": "events", "outcome": outcome}) or 0.0


async def test_valid_messages_are_forwarded_for_the_topics_tenant_and_bad_ones_recorded() -> None:
    forwarded: list[Event] = []

    async def forward(tenant_id: str, events: Sequence[tuple[str, Event]]) -> set[str]:
        forwarded.extend(e for _, e in events)
        return set()

    log = FakeLog()
    batch = [_message(0, GOOD), _message(1, b"garbage"), _message(2, {**GOOD, "tenant_id": "b"})]
    before = {o: _ingested(o) for o in ("accepted", "rejected")}
    statuses = await consume_batch("ingest.a.events", batch, event_of, forward, log)
    assert {o: _ingested(o) - before[o] for o in before} == {"accepted": 1, "rejected": 2}
    assert statuses == {"m0": "SUCCESS", "m1": "SUCCESS", "m2": "SUCCESS"}
    assert [e.tenant_id for e in forwarded] == ["a"]
    [(tenant, kind, accepted, rejected)] = log.records
    assert (tenant, kind, accepted) == ("a", IngestKind.EVENTS, 1)
    assert [(r.message_id, r.rejection.code) for r in rejected] == [("m1", "invalid_json"), ("m2", "tenant_mismatch")]
    assert rejected[0].excerpt == "garbage"


async def test_what_could_not_be_forwarded_or_recorded_is_redelivered() -> None:
    async def forward(tenant_id: str, events: Sequence[tuple[str, Event]]) -> set[str]:
        return {events[0][0]}

    batch = [_message(0, GOOD), _message(1, {**GOOD, "item_id": "i2"}), _message(2, b"[")]
    statuses = await consume_batch("ingest.a.events", batch, event_of, forward, FakeLog(fail=True))
    assert statuses == {"m0": "RETRY", "m1": "SUCCESS", "m2": "RETRY"}


async def test_a_topic_that_is_not_an_ingest_topic_is_dropped() -> None:
    async def forward(tenant_id: str, events: Sequence[tuple[str, Event]]) -> set[str]:
        raise AssertionError("nothing to forward")

    statuses = await consume_batch("events", [_message(0, GOOD)], event_of, forward, FakeLog())
    assert statuses == {"m0": "DROP"}
