"""lemo/ingest.py: topic names, payload decoding (CloudEvent or raw JSON) and the tenant rule."""

from __future__ import annotations

import base64
import json

import pytest

from lemo.ingest import (
    MAX_MESSAGE_BYTES,
    IngestKind,
    Rejection,
    event_of,
    ingest_topic,
    item_change_of,
    payload_of,
    topic_tenant,
)


def test_topic_names_round_trip_and_refuse_other_topics() -> None:
    topic = ingest_topic("shop-1_a", IngestKind.EVENTS)
    assert topic == "ingest.shop-1_a.events"
    assert topic_tenant(topic) == ("shop-1_a", IngestKind.EVENTS)
    assert topic_tenant("ingest.shop.items") == ("shop", IngestKind.ITEMS)
    for other in ("events", "ingest.shop.users", "ingest.Shop.events", "ingest.a.b.events", "x.shop.events"):
        assert topic_tenant(other) is None
    with pytest.raises(ValueError):
        ingest_topic("a.b", IngestKind.EVENTS)


def test_cloud_event_and_raw_json_carry_the_same_payload() -> None:
    body = {"user_id": "u1", "item_id": "i1", "type": "click"}
    cloud_event = {"specversion": "1.0", "id": "x", "source": "p", "type": "t", "data": body}
    assert payload_of(json.dumps(cloud_event).encode()) == body
    assert payload_of(json.dumps(body).encode()) == body
    as_base64 = {"specversion": "1.0", "data_base64": base64.b64encode(json.dumps(body).encode()).decode()}
    assert payload_of(json.dumps(as_base64).encode()) == body
    as_text = {"specversion": "1.0", "data": json.dumps(body)}
    assert payload_of(json.dumps(as_text).encode()) == body


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"not json", "invalid_json"), (b"{", "invalid_json"), (b" " * (MAX_MESSAGE_BYTES + 1), "too_large")],
)
def test_undecodable_messages_are_rejected_with_a_reason(raw: bytes, code: str) -> None:
    with pytest.raises(Rejection) as caught:
        payload_of(raw)
    assert caught.value.code == code


def test_the_topic_decides_the_tenant() -> None:
    body = {"event_id": "e1", "user_id": "u1", "item_id": "i1", "type": "view"}
    assert event_of("a", body).tenant_id == "a"
    assert event_of("a", {**body, "tenant_id": "a"}).tenant_id == "a"
    with pytest.raises(Rejection) as caught:
        event_of("a", {**body, "tenant_id": "b"})
    assert caught.value.code == "tenant_mismatch"
    with pytest.raises(Rejection) as caught:
        item_change_of("a", {"item_id": "i1", "tenant_id": "b"})
    assert caught.value.code == "tenant_mismatch"


def test_events_are_validated_as_the_http_api_validates_them() -> None:
    with pytest.raises(Rejection) as caught:
        event_of("a", {"user_id": "u1", "item_id": "i1", "type": "teleport"})
    assert caught.value.code == "invalid_event"
    assert caught.value.errors[0]["loc"] == ("type",)
    json.dumps(caught.value.as_dict())  # stored as it is
    with pytest.raises(Rejection) as caught:
        event_of("a", {"user_id": "u1", "item_id": "i1", "type": "rate"})
    assert caught.value.code == "invalid_event"
    json.dumps(caught.value.as_dict())
    with pytest.raises(Rejection):
        event_of("a", ["not", "an", "object"])


def test_an_event_without_id_gets_one_from_its_content() -> None:
    body = {"user_id": "u1", "item_id": "i1", "type": "view", "timestamp": 1.0}
    assert event_of("a", body).event_id == event_of("a", dict(body)).event_id
    assert event_of("a", body).event_id != event_of("b", body).event_id
    assert event_of("a", body).event_id != event_of("a", {**body, "item_id": "i2"}).event_id
    assert event_of("a", {**body, "event_id": "mine"}).event_id == "mine"


def test_item_changes_in_each_accepted_shape() -> None:
    assert item_change_of("a", {"item_id": "i1", "title": "T"}).fields == {"title": "T"}
    wrapped = item_change_of("a", {"op": "upsert", "item": {"item_id": "i1", "tags": ["x"]}})
    assert (wrapped.op, wrapped.item_id, wrapped.fields) == ("upsert", "i1", {"tags": ["x"]})
    assert item_change_of("a", {"op": "delete", "item_id": "i1"}).op == "delete"
    for bad in ({"op": "rename", "item_id": "i1"}, {"title": "no id"}, {"op": "delete", "item_id": "i1", "x": 1}):
        with pytest.raises(Rejection) as caught:
            item_change_of("a", bad)
        assert caught.value.code == "invalid_item"
