from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from lemo.events import Event, EventBody, user_actor_id


def test_defaults_assign_an_event_id_and_timestamp() -> None:
    event = Event(tenant_id="t1", user_id="u1", item_id="i1", type="click")
    assert len(event.event_id) == 32
    assert abs(event.timestamp - time.time()) < 5
    assert event.actor_id == "t1:u1" == user_actor_id("t1", "u1")


@pytest.mark.parametrize(
    "change",
    [
        {"type": "teleport"},
        {"user_id": ""},
        {"item_id": "has space"},
        {"tenant_id": "x" * 129},
        {"timestamp": time.time() + 3600},
        {"timestamp": -1},
        {"timestamp": False},
        {"timestamp": "1700000000"},
        {"type": "rate", "value": True},
        {"type": "rate", "value": "4"},
        {"type": "rate"},
        {"unexpected": 1},
    ],
)
def test_invalid_events_are_rejected(change: dict[str, object]) -> None:
    fields = {"tenant_id": "t1", "user_id": "u1", "item_id": "i1", "type": "view", **change}
    with pytest.raises(ValidationError):
        Event.model_validate(fields)


def test_whole_numbers_are_numbers() -> None:
    event = EventBody.model_validate({"user_id": "u", "item_id": "i", "type": "rate", "value": 4, "timestamp": 1})
    assert (event.value, event.timestamp) == (4.0, 1.0)


def test_small_clock_skew_is_accepted() -> None:
    Event(tenant_id="t1", user_id="u1", item_id="i1", type="view", timestamp=time.time() + 60)


def test_a_click_carries_the_request_id_of_the_list_it_came_from() -> None:
    # Clients echo a recommendation's request_id in `context`: it travels and is archived with the event.
    body = {"user_id": "u1", "item_id": "i1", "type": "click", "context": {"request_id": "4f1c2b", "position": 2}}
    event = Event(tenant_id="t1", **EventBody.model_validate(body).model_dump())
    assert event.model_dump(mode="json")["context"] == {"request_id": "4f1c2b", "position": 2}


def test_clients_cannot_set_the_acceptance_stamp() -> None:
    # `accepted_at` orders the realtime profile's dedupe; only the events app sets it.
    with pytest.raises(ValidationError):
        EventBody.model_validate({"user_id": "u1", "item_id": "i1", "type": "click", "accepted_at": 1.0})
