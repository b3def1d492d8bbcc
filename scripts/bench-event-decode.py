"""The CPU an event costs in encoding, decoding and validation on its way through the mesh, per event, in process.

Each hop of the event path (docs/architecture.md, "An event") is timed as the code does it now ("after") and as it
did before events were validated once at the edge ("before": every hop ran the edge's rules again, through
`EdgeChecked`, the events topic's model as it was, and went JSON -> dict -> model -> dict -> JSON). No sidecar,
broker or store is involved: the figures are the Python work alone, microseconds per event, best of `--repeat`
runs over a delivery of `--events` events of `--users` users (the profiles consumer's bulk delivery). The first
table compares ways to decode one event of a bulk delivery; the second is the path hop by hop.

    nice -n 10 .venv/bin/python scripts/bench-event-decode.py
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from pydantic_core import to_json

from apps.shared.actor_client import ACTOR_SERIALIZER
from apps.shared.subscriptions import bulk_entries, bulk_messages
from lemo.events import Event, EventBody, Identifier, event_for_tenant
from lemo.realtime.messages import EventForActor, RecordEvents

try:
    import orjson
except ImportError:  # not a dependency of the project's own; its row is left out without it
    orjson = None  # type: ignore[assignment]


class EdgeChecked(EventBody):
    """The events topic's model before: the edge's rules (not in the future, a rate has a value) at every hop."""

    tenant_id: Identifier
    accepted_at: float | None = None


class EdgeCheckedForActor(BaseModel):
    event: EdgeChecked
    keys: list[str] = Field(default_factory=list)


class EdgeCheckedRecordEvents(BaseModel):
    events: list[EdgeCheckedForActor]


def _bodies(n: int, users: int) -> list[dict[str, Any]]:
    now = time.time()
    return [
        {
            "event_id": f"e{i}",
            "user_id": f"u{i % users}",
            "item_id": f"m{i * 7 % 1000}",
            "type": "rate" if i % 5 == 0 else "click",
            "value": 4.0 if i % 5 == 0 else None,
            "timestamp": now - i,
            "context": {"request_id": f"r{i}", "position": i % 10},
        }
        for i in range(n)
    ]


def _delivery(topic_events: list[bytes]) -> bytes:
    """A Dapr bulk delivery as the sidecar posts it: each entry a CloudEvent carrying the event as `data`."""
    entries = b",".join(
        b'{"entryId":"%d","event":{"specversion":"1.0","id":"%d","type":"com.dapr.event.sent","source":"events",'
        b'"datacontenttype":"application/json","topic":"events","pubsubname":"pubsub","data":%s},'
        b'"contentType":"application/cloudevents+json","metadata":{}}' % (i, i, e)
        for i, e in enumerate(topic_events)
    )
    return b'{"id":"b","topic":"events","pubsubname":"pubsub","type":"com.dapr.event.sent.bulk","entries":[%s]}' % (
        entries
    )


def _us_per_event(fns: list[Callable[[], object]], events: int, repeat: int, number: int = 3) -> list[float]:
    """Microseconds per event of one call of each of `fns` over `events` events: the best of `repeat` runs of
    `number` calls, the functions taking turns within each run so a busy moment of the machine hits them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / number)
    return [b / events * 1e6 for b in best]


def _edge_checked_delivery(delivery: bytes) -> list[EdgeChecked]:
    return [EdgeChecked.model_validate(data) for _, data in bulk_entries(json.loads(delivery))]


def _decoders(delivery: bytes) -> list[tuple[str, Callable[[], object]]]:
    """Ways to decode a bulk delivery of the events topic into events."""
    found: list[tuple[str, Callable[[], object]]] = [
        ("json.loads + model_validate with the edge's rules (before)", lambda: _edge_checked_delivery(delivery)),
        (
            "json.loads + Event.model_validate (the schema only)",
            lambda: [Event.model_validate(d) for _, d in bulk_entries(json.loads(delivery))],
        ),
        (
            "json.loads + Event.model_construct (no checks, no types)",
            lambda: [Event.model_construct(**d) for _, d in bulk_entries(json.loads(delivery))],
        ),
    ]
    if orjson is not None:
        found.append(
            (
                "orjson.loads + Event.model_construct (no checks, no types)",
                lambda: [Event.model_construct(**d) for _, d in bulk_entries(orjson.loads(delivery))],
            )
        )
    found.append(("bulk_messages: one validate_json over the delivery (after)", lambda: bulk_messages(delivery, Event)))
    return found


def _hops(
    validated: list[EventBody], delivery: bytes, by_user: dict[str, list[Event]]
) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    """(hop, as it was, as it is) for each encode/decode step of the path."""
    stamp = time.time()
    requests = [to_json(Event.of("t", b)) for b in validated]
    wire = [RecordEvents(events=[EventForActor(event=e, keys=["c:x"]) for e in b]).encode() for b in by_user.values()]

    def gateway_before() -> object:
        return [json.dumps(EdgeChecked(tenant_id="t", **b.model_dump()).model_dump(mode="json")) for b in validated]

    def events_app_before() -> object:
        return [
            json.dumps({**EdgeChecked.model_validate(json.loads(r)).model_dump(mode="json"), "accepted_at": stamp})
            for r in requests
        ]

    def events_app_after() -> object:
        # FastAPI's body parameter: json.loads, then the model; the stamp on a copy, encoded once.
        return [
            to_json(Event.model_validate(json.loads(r)).model_copy(update={"accepted_at": stamp})) for r in requests
        ]

    def messages_before() -> object:
        # The consumer's events validated again into the message, dumped to dicts, then json.dumps.
        return [
            json.dumps(
                EdgeCheckedRecordEvents(
                    events=[
                        EdgeCheckedForActor(event=EdgeChecked.model_validate(e.model_dump()), keys=["c:x"]) for e in b
                    ]
                ).model_dump(mode="json"),
                separators=(",", ":"),
            )
            for b in by_user.values()
        ]

    def messages_after() -> object:
        return [
            RecordEvents(events=[EventForActor(event=e, keys=["c:x"]) for e in b]).encode() for b in by_user.values()
        ]

    return [
        (
            "gateway: validated body -> events app request",
            gateway_before,
            lambda: [to_json(Event.of("t", b)) for b in validated],
        ),
        ("events app: request -> stamped topic message", events_app_before, events_app_after),
        (
            "profiles: delivery -> typed events",
            lambda: _edge_checked_delivery(delivery),
            lambda: bulk_messages(delivery, Event),
        ),
        ("profiles: events -> actor messages (JSON)", messages_before, messages_after),
        (
            "actor: message JSON -> typed message",
            lambda: [EdgeCheckedRecordEvents.model_validate(json.loads(w)) for w in wire],
            lambda: [ACTOR_SERIALIZER.deserialize(w, RecordEvents) for w in wire],
        ),
        (
            "events app archive: delivery -> typed events",
            lambda: _edge_checked_delivery(delivery),
            lambda: bulk_messages(delivery, Event),
        ),
        (
            "feeds: delivery -> typed events",
            lambda: _edge_checked_delivery(delivery),
            lambda: bulk_messages(delivery, Event),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n, repeat = args.events, args.repeat
    bodies = _bodies(n, args.users)
    validated = [EventBody.model_validate(b) for b in bodies]
    events = [
        Event.of("t", b).model_copy(update={"accepted_at": time.time() + i * 1e-6}) for i, b in enumerate(validated)
    ]
    delivery = _delivery([to_json(e) for e in events])
    by_user: dict[str, list[Event]] = {}
    for e in events:
        by_user.setdefault(e.actor_id, []).append(e)

    print(f"Decoding one event of a bulk delivery of {n} (us per event, best of {repeat}):\n")
    print("| way | us/event |\n| --- | ---: |")
    decoders = _decoders(delivery)
    for (name, _), us in zip(decoders, _us_per_event([fn for _, fn in decoders], n, repeat), strict=True):
        print(f"| {name} | {us:.2f} |")

    print(f"\nThe path, hop by hop ({n} events of {args.users} users; us per event, best of {repeat}):\n")
    print("| hop | before | after |\n| --- | ---: | ---: |")
    hops = _hops(validated, delivery, by_user)

    def edge() -> object:
        return [event_for_tenant("t", b) for b in bodies]

    timed = _us_per_event([f for _, before, after in hops for f in (before, after)] + [edge], n, repeat)
    for k, (name, _, _) in enumerate(hops):
        print(f"| {name} | {timed[2 * k]:.2f} | {timed[2 * k + 1]:.2f} |")
    total_before, total_after = sum(timed[0:-1:2]), sum(timed[1:-1:2])
    print(f"| **every hop after the edge** | **{total_before:.2f}** | **{total_after:.2f}** |")
    print(f"\nThe edge's one validation (event_for_tenant; the batch API, ingest topics): {timed[-1]:.2f} us per event")


if __name__ == "__main__":
    main()
