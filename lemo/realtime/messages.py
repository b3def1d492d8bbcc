"""The messages the profiles app's consumers send to a user's realtime-profile actor, defined once.

An event in them is the events topic's payload itself (`lemo.events.Event`, stamped with `accepted_at`), and a
served list the exposures topic's (`lemo.exposures.Exposure`): one schema from the topic to the actor. The consumer
builds a message from what it validated off the topic; the actor validates the whole message once
(`model_validate`). They travel as plain JSON (`model_dump(mode="json")`; apps/shared/actor_client.py says why), the
same JSON as the hand-built dicts before them, so actors and consumers of either version understand each other
during a rolling restart.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from lemo.events import Event
from lemo.exposures import Exposure


class EventForActor(BaseModel):
    """One event with its item's interest keys (categories and tags, lemo/realtime/profile.py `interest_keys`),
    which the consumer looks up so the actor never reads the catalog."""

    event: Event
    keys: list[str] = Field(default_factory=list)


class RecordEvents(BaseModel):
    """A user's events of one delivery, in acceptance order: folded in in one turn and one state write."""

    events: list[EventForActor]


class RecordExposures(BaseModel):
    """A user's served lists of one delivery: taken in one turn and one state write."""

    exposures: list[Exposure]
