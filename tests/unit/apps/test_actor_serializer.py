"""Actor messages and state keep strings as strings (the SDK's default decoder turns "5m" into a timedelta)."""

from __future__ import annotations

from dapr.actor.runtime._type_utils import get_dispatchable_attrs

from actors.user_profile_actor import UserProfileActor
from apps.shared.actor_client import ACTOR_SERIALIZER
from lemo.events import Event
from lemo.realtime.messages import EventForActor, RecordEvents


def test_strings_that_look_like_durations_or_dates_round_trip() -> None:
    value = {"recent": ["5m", "10s", "1h", "2024-01-02", "2024-01-02-launch"], "n": 3, "ok": True, "x": None}
    assert ACTOR_SERIALIZER.deserialize(ACTOR_SERIALIZER.serialize(value)) == value


def test_empty_reply_is_none_and_non_ascii_survives() -> None:
    assert ACTOR_SERIALIZER.deserialize(b"") is None
    assert ACTOR_SERIALIZER.deserialize(ACTOR_SERIALIZER.serialize({"t": "café"})) == {"t": "café"}


def test_a_message_the_interface_names_is_decoded_straight_into_its_model() -> None:
    # The runtime passes the interface's annotation of a method's message (actors/user_profile.py keeps them classes).
    arg_type = get_dispatchable_attrs(UserProfileActor)["RecordEvents"]["arg_types"][0]
    assert arg_type is RecordEvents
    event = Event(tenant_id="t", user_id="u", item_id="5m", type="click", event_id="2024-01-02")
    message = RecordEvents(events=[EventForActor(event=event, keys=["c:10s"])])
    wire = ACTOR_SERIALIZER.serialize(message)
    assert wire == message.encode()
    decoded = ACTOR_SERIALIZER.deserialize(wire, arg_type)
    assert isinstance(decoded, RecordEvents) and decoded == message
    # Answers (list[bool], dict[str, Any]) and untyped messages stay plain JSON.
    assert ACTOR_SERIALIZER.deserialize(b"[true,false]", list[bool]) == [True, False]
