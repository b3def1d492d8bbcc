"""actors/user_profile_actor.py through the SDK's mock actor: the JSON messages the consumer sends (and their
models) are validated once, folded in, and refused whole when an event or list belongs to another user."""

from __future__ import annotations

import time
from typing import Any

import pytest
from dapr.actor.runtime.mock_actor import create_mock_actor
from pydantic import ValidationError

from actors.user_profile_actor import UserProfileActor
from lemo.realtime.messages import EventForActor, RecordEvents, RecordExposures


def _event(event_id: str, user: str = "u", item: str = "m1") -> dict[str, Any]:
    return {
        "tenant_id": "t",
        "user_id": user,
        "item_id": item,
        "type": "click",
        "event_id": event_id,
        "timestamp": time.time(),
    }


def _actor() -> UserProfileActor:
    return create_mock_actor(UserProfileActor, "t:u")


async def test_events_as_json_are_folded_in_once() -> None:
    actor = _actor()
    wire = {"events": [{"event": _event("e1"), "keys": ["c:drama"]}, {"event": _event("e2", item="m2"), "keys": []}]}
    assert await actor.record_events(wire) == [True, True]
    assert await actor.record_events(wire) == [False, False]  # a redelivery changes nothing
    assert await actor.record_event({"event": _event("e3"), "keys": ["c:drama"]}) is True
    profile = await actor.get_profile()
    assert profile["type_counts"] == {"click": 3}
    assert profile["window_1h"] == {"c:drama": 2}


async def test_a_model_is_taken_as_its_json() -> None:
    actor = _actor()
    message = RecordEvents.model_validate({"events": [{"event": _event("e1"), "keys": ["t:x"]}]})
    assert await actor.record_events(message) == [True]
    assert await actor.record_event(EventForActor.model_validate({"event": _event("e1")})) is False


async def test_a_message_for_another_user_or_malformed_changes_nothing() -> None:
    actor = _actor()
    with pytest.raises(ValueError, match="sent to actor t:u"):
        await actor.record_events({"events": [{"event": _event("e1")}, {"event": _event("e2", user="v")}]})
    with pytest.raises(ValidationError):
        await actor.record_events({"events": [{"event": _event("e3") | {"type": "teleport"}}]})
    assert (await actor.get_profile())["type_counts"] == {}


async def test_served_lists_are_taken_once() -> None:
    actor = _actor()
    shown = {"request_id": "r1", "tenant_id": "t", "user_id": "u", "scenario": "home", "items": ["a", "b"]}
    wire = RecordExposures.model_validate({"exposures": [shown | {"timestamp": 1.0}]}).model_dump(mode="json")
    assert await actor.record_exposures(wire) == [True]
    assert await actor.record_exposures(wire) == [False]
    assert (await actor.get_profile())["shown_items"] == ["a", "b"]
    with pytest.raises(ValueError, match="sent to actor t:u"):
        await actor.record_exposures({"exposures": [shown | {"user_id": "v", "request_id": "r2", "timestamp": 2.0}]})
