"""Actor messages and state keep strings as strings (the SDK's default decoder turns "5m" into a timedelta)."""

from __future__ import annotations

from apps.shared.actor_client import ACTOR_SERIALIZER


def test_strings_that_look_like_durations_or_dates_round_trip() -> None:
    value = {"recent": ["5m", "10s", "1h", "2024-01-02", "2024-01-02-launch"], "n": 3, "ok": True, "x": None}
    assert ACTOR_SERIALIZER.deserialize(ACTOR_SERIALIZER.serialize(value)) == value


def test_empty_reply_is_none_and_non_ascii_survives() -> None:
    assert ACTOR_SERIALIZER.deserialize(b"") is None
    assert ACTOR_SERIALIZER.deserialize(ACTOR_SERIALIZER.serialize({"t": "café"})) == {"t": "café"}
