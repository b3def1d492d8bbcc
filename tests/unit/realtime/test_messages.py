"""lemo/realtime/messages.py: the actor messages are the topic payloads wrapped once, and travel as the same JSON
the hand-built dicts before them did (so a rolling restart mixes versions safely)."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import ValidationError

from lemo.events import Event
from lemo.exposures import Exposure
from lemo.realtime.messages import EventForActor, RecordEvents, RecordExposures


def _event(n: int = 0) -> Event:
    return Event.model_validate(
        {
            "tenant_id": "t",
            "user_id": "u",
            "item_id": f"m{n}",
            "type": "rate",
            "value": 4.5,
            "timestamp": time.time(),
            "event_id": f"e{n}",
            "accepted_at": time.time(),
            "context": {"page": "home"},
        }
    )


def _exposure(n: int = 0) -> Exposure:
    return Exposure(request_id=f"r{n}", tenant_id="t", user_id="u", scenario="home", items=["a", "b"], timestamp=1.0)


def test_record_events_travels_as_the_hand_built_json() -> None:
    events = [_event(0), _event(1)]
    message = RecordEvents(events=[EventForActor(event=e, keys=["c:drama"]) for e in events])
    wire = message.model_dump(mode="json")
    assert wire == {"events": [{"event": e.model_dump(mode="json"), "keys": ["c:drama"]} for e in events]}
    assert RecordEvents.model_validate(wire) == message


def test_record_exposures_travels_as_the_hand_built_json() -> None:
    lists = [_exposure(0), _exposure(1)]
    wire = RecordExposures(exposures=lists).model_dump(mode="json")
    assert wire == {"exposures": [e.model_dump(mode="json") for e in lists]}
    assert RecordExposures.model_validate(wire).exposures == lists


def test_an_event_without_keys_has_none() -> None:
    sent = RecordEvents.model_validate({"events": [{"event": _event().model_dump(mode="json")}]})
    assert sent.events[0].keys == []


def test_one_decoding_checks_every_event_with_the_topic_schema() -> None:
    bad = _event().model_dump(mode="json") | {"type": "teleport"}
    with pytest.raises(ValidationError, match=r"events\.0\.event\.type"):
        RecordEvents.model_validate({"events": [{"event": bad, "keys": []}]})
    with pytest.raises(ValidationError, match=r"events\.0\.event\.user_id"):
        RecordEvents.model_validate_json(json.dumps({"events": [{"event": bad | {"type": "view", "user_id": ""}}]}))


def test_the_bytes_sent_are_the_json_of_before_and_decode_into_the_message() -> None:
    message = RecordEvents(events=[EventForActor(event=e, keys=["c:drama"]) for e in (_event(0), _event(1))])
    wire = message.encode()
    assert json.loads(wire) == message.model_dump(mode="json")
    assert RecordEvents.model_validate_json(wire) == message
    lists = RecordExposures(exposures=[_exposure(0)])
    assert RecordExposures.model_validate_json(lists.encode()) == lists


def test_a_malformed_served_list_is_refused() -> None:
    with pytest.raises(ValidationError):
        RecordExposures.model_validate({"exposures": [_exposure().model_dump(mode="json") | {"extra": 1}]})
