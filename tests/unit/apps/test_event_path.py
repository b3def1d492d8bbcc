"""One event from the gateway to its user's actor, in process, through the code of every hop (the gateway's service,
the events app's route and intake, a bulk delivery of the topic to the profiles consumer and the archive, the actor
runtime's decoding of its message, the actor): the edge's rules run once, where the event came in, and each hop
hands the next the typed message's bytes (docs/data-plane.md, "One validation")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from dapr.actor.runtime._type_utils import get_dispatchable_attrs
from dapr.actor.runtime.mock_actor import create_mock_actor
from fastapi import FastAPI

import lemo.events
from actors.user_profile_actor import UserProfileActor
from apps.events import archive, events
from apps.events.service import Intake
from apps.gateway.service import PublicApi
from apps.gateway.settings import GatewaySettings
from apps.profiles import ingest
from apps.profiles.realtime import HotCounter
from apps.shared.actor_client import ACTOR_SERIALIZER
from apps.shared.publish import Publisher
from apps.shared.sidecar import SidecarHttp, SidecarResponse
from lemo.events import Event, EventBody
from lemo.realtime.messages import RecordEvents


class EdgeRules:
    """Counts the edge's "not in the future" rule as it runs: it reads lemo.events' clock once per event checked."""

    def __init__(self) -> None:
        self.runs = 0

    def time(self) -> float:
        self.runs += 1
        return time.time()


class Gateway:
    """The gateway's downstream: keeps what the gateway sends the events app."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def call(self, app_id: str, method: str, path: str, **kwargs: Any) -> SidecarResponse:
        self.sent.append(kwargs["content"])
        return SidecarResponse(202, b"{}", {})


class Sidecar(SidecarHttp):
    """The events app's sidecar: keeps what is published."""

    def __init__(self) -> None:
        super().__init__("http://sidecar", 1.0, {})
        self.published: list[bytes] = []

    async def request(self, method: str, url: str, **kwargs: Any) -> SidecarResponse:
        self.published.append(kwargs["content"])
        return SidecarResponse(204, b"", {})


def _delivery(*messages: bytes) -> bytes:
    """A bulk delivery of the events topic as daprd posts it: each message the `data` of a CloudEvent."""
    entries = b",".join(
        b'{"entryId":"%d","event":{"specversion":"1.0","id":"c%d","topic":"events","data":%s},"metadata":{}}'
        % (i, i, m)
        for i, m in enumerate(messages)
    )
    return b'{"id":"b","entries":[%s]}' % entries


class Items:
    async def keys_many(self, tenant_id: str, item_ids: Iterable[str]) -> dict[str, list[str]]:
        return {i: ["c:drama"] for i in item_ids}


class Users:
    async def ensure_many(self, tenant_id: str, user_ids: Sequence[str]) -> None:
        pass


class ActorHost:
    """The profiles sidecar and the actor runtime: a message's bytes decoded as the runtime decodes them (the
    interface's annotation, apps/shared/actor_client.py), then handed to the actor."""

    def __init__(self) -> None:
        self.actors: dict[str, UserProfileActor] = {}
        self.decoded: list[object] = []

    def proxy(self, actor_type: str, actor_id: str, interface: type[Any]) -> Any:
        actor = self.actors.setdefault(actor_id, create_mock_actor(UserProfileActor, actor_id))
        arg_type = get_dispatchable_attrs(UserProfileActor)["RecordEvents"]["arg_types"][0]

        async def record_events(payload: bytes) -> list[bool]:
            message = ACTOR_SERIALIZER.deserialize(payload, arg_type)
            self.decoded.append(message)
            return await actor.record_events(message)

        return SimpleNamespace(RecordEvents=record_events)


async def test_the_edge_rules_run_once_and_each_hop_decodes_the_typed_message_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = EdgeRules()
    raw = {"event_id": "e1", "user_id": "u1", "item_id": "m1", "type": "rate", "value": 4.5, "timestamp": time.time()}
    monkeypatch.setattr(lemo.events, "time", rules)

    body = EventBody.model_validate(raw)  # the edge: the gateway's route (or its gRPC method)
    assert rules.runs == 1

    gateway = Gateway()
    api = PublicApi(cast(Any, gateway), GatewaySettings(), cast(Any, None), cast(Any, None))
    await api.track_event("t", body)

    sidecar = Sidecar()
    app = FastAPI()
    app.include_router(events.router)
    app.state.intake = Intake(Publisher(sidecar, "pubsub"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://events") as client:
        sent = gateway.sent[0]
        resp = await client.post("/events", content=sent, headers={"content-type": "application/json"})
    assert resp.status_code == 202, resp.text
    on_topic = Event.model_validate_json(sidecar.published[0])
    assert on_topic.accepted_at is not None
    assert on_topic.model_copy(update={"accepted_at": None}) == Event.model_validate_json(sent)

    host = ActorHost()
    monkeypatch.setattr(ingest, "actor_proxy", host.proxy)
    rt = ingest.Realtime(
        users=ingest.KnownUsers(cast(Any, Users())),
        items=cast(Any, Items()),
        hot=HotCounter(),
        turns=asyncio.Semaphore(4),
    )
    reply = await ingest.ingest_bulk(_delivery(sidecar.published[0]), rt)
    assert reply == {"statuses": [{"entryId": "0", "status": "SUCCESS"}]}
    assert [type(m) for m in host.decoded] == [RecordEvents]
    assert (await host.actors["t:u1"].get_profile())["type_counts"] == {"rate": 1}

    archived: list[Event] = []

    class Archive:
        async def append_many(self, got: Sequence[Event]) -> list[Event]:
            archived.extend(got)
            return list(got)

    class Counts:
        async def add(self, new: Sequence[Event]) -> None:
            pass

    reply = await archive.archive_bulk(_delivery(sidecar.published[0]), cast(Any, Archive()), cast(Any, Counts()))
    assert reply == {"statuses": [{"entryId": "0", "status": "SUCCESS"}]}
    assert archived == [on_topic]

    assert rules.runs == 1  # gateway service, events app, both consumers and the actor: the rule never ran again


async def test_an_event_is_not_judged_again_by_a_later_hops_clock() -> None:
    # Accepted at the edge within the allowed skew, it stays accepted wherever it goes: here a delivery whose event
    # is past the skew by the receiving hop's clock (a skewed replica, say) still reaches the actor.
    event = Event(tenant_id="t", user_id="u1", item_id="m1", type="view", timestamp=time.time() + 86400, event_id="e1")
    host = ActorHost()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "actor_proxy", host.proxy)
        rt = ingest.Realtime(
            users=ingest.KnownUsers(cast(Any, Users())),
            items=cast(Any, Items()),
            hot=HotCounter(),
            turns=asyncio.Semaphore(4),
        )
        reply = await ingest.ingest_bulk(_delivery(event.model_dump_json().encode()), rt)
    assert reply == {"statuses": [{"entryId": "0", "status": "SUCCESS"}]}
    assert (await host.actors["t:u1"].get_profile())["type_counts"] == {"view": 1}


async def test_a_malformed_entry_goes_to_the_dead_letter_topic_and_the_rest_are_taken() -> None:
    good = Event(tenant_id="t", user_id="u1", item_id="m1", type="click", event_id="e1").model_dump_json().encode()
    host = ActorHost()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "actor_proxy", host.proxy)
        rt = ingest.Realtime(
            users=ingest.KnownUsers(cast(Any, Users())),
            items=cast(Any, Items()),
            hot=HotCounter(),
            turns=asyncio.Semaphore(4),
        )
        reply = await ingest.ingest_bulk(_delivery(b'{"type":"teleport"}', good, b'"not an event"'), rt)
    statuses = {s["entryId"]: s["status"] for s in reply["statuses"]}
    assert statuses == {"0": "DROP", "1": "SUCCESS", "2": "DROP"}
