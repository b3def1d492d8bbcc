from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from lemo.events import Event, EventBody, event_for_tenant, user_actor_id


def test_defaults_assign_an_event_id_and_timestamp() -> None:
    event = Event(tenant_id="t1", user_id="u1", item_id="i1", type="click")
    assert len(event.event_id) == 32
    assert abs(event.timestamp - time.time()) < 5
    assert event.actor_id == "t1:u1" == user_actor_id("t1", "u1")


# Broken schema: refused at the edge and by every hop's decoding of the topic's events.
SCHEMA_VIOLATIONS: list[dict[str, object]] = [
    {"type": "teleport"},
    {"user_id": ""},
    {"item_id": "has space"},
    {"timestamp": -1},
    {"timestamp": False},
    {"timestamp": "1700000000"},
    {"type": "rate", "value": True},
    {"type": "rate", "value": "4"},
    {"unexpected": 1},
]
# The edge's rules: checked once, where an event comes in, and not again on its way.
EDGE_RULES: list[dict[str, object]] = [{"timestamp": time.time() + 3600}, {"type": "rate"}]


@pytest.mark.parametrize("change", SCHEMA_VIOLATIONS + EDGE_RULES)
def test_invalid_events_are_rejected_at_the_edge(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        event_for_tenant("t1", {"user_id": "u1", "item_id": "i1", "type": "view", **change})


@pytest.mark.parametrize("change", [*SCHEMA_VIOLATIONS, {"tenant_id": "x" * 129}])
def test_the_topic_schema_refuses_malformed_events(change: dict[str, object]) -> None:
    fields = {"tenant_id": "t1", "user_id": "u1", "item_id": "i1", "type": "view", **change}
    with pytest.raises(ValidationError):
        Event.model_validate(fields)


@pytest.mark.parametrize("change", EDGE_RULES)
def test_the_topic_schema_does_not_ask_the_edge_rules_again(change: dict[str, object]) -> None:
    fields = {"tenant_id": "t1", "user_id": "u1", "item_id": "i1", "type": "view", **change}
    assert Event.model_validate(fields).model_dump(include=set(change)) == change


def test_the_edge_hands_on_the_body_it_validated() -> None:
    body = EventBody.model_validate({"user_id": "u1", "item_id": "i1", "type": "rate", "value": 3, "timestamp": 5})
    event = Event.of("t1", body)
    assert event.model_dump(exclude={"tenant_id", "accepted_at"}) == body.model_dump()
    assert (event.tenant_id, event.accepted_at, event.value) == ("t1", None, 3.0)
    assert Event.model_validate_json(event.model_dump_json()) == event


def test_whole_numbers_are_numbers() -> None:
    event = EventBody.model_validate({"user_id": "u", "item_id": "i", "type": "rate", "value": 4, "timestamp": 1})
    assert (event.value, event.timestamp) == (4.0, 1.0)


def test_small_clock_skew_is_accepted() -> None:
    Event(tenant_id="t1", user_id="u1", item_id="i1", type="view", timestamp=time.time() + 60)


def test_a_click_carries_the_request_id_of_the_list_it_came_from() -> None:
    # Clients echo a recommendation's request_id in `context`: it travels and is archived with the event.
    body = {"user_id": "u1", "item_id": "i1", "type": "click", "context": {"request_id": "4f1c2b", "position": 2}}
    event = event_for_tenant("t1", body)
    assert event.model_dump(mode="json")["context"] == {"request_id": "4f1c2b", "position": 2}


def test_clients_cannot_set_the_acceptance_stamp() -> None:
    # `accepted_at` orders the realtime profile's dedupe; only the events app sets it.
    with pytest.raises(ValidationError):
        EventBody.model_validate({"user_id": "u1", "item_id": "i1", "type": "click", "accepted_at": 1.0})
