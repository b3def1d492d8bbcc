"""The messages the profiles app's consumers send to a user's realtime-profile actor, defined once.

An event in them is the events topic's payload itself (`lemo.events.Event`, stamped with `accepted_at`), and a
served list the exposures topic's (`lemo.exposures.Exposure`): one schema from the topic to the actor. The consumer
builds a message from the typed events it decoded off the topic (nothing is validated again) and sends its JSON
(`encode`, one pass of pydantic's core); the actor's runtime decodes the bytes straight into the message
(`model_validate_json`, apps/shared/actor_client.py), which checks the schema, not the edge's rules again
(docs/data-plane.md, "One validation"). The JSON is the hand-built dicts' before them, so actors and consumers of
either version understand each other during a rolling restart.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_core import to_json

from lemo.events import Event
from lemo.exposures import Exposure


class ActorMessage(BaseModel):
    """A message to an actor, plain JSON on the wire."""

    def encode(self) -> bytes:
        """The message's JSON, as it travels."""
        return to_json(self)


class EventForActor(ActorMessage):
    """One event with its item's interest keys (categories and tags, lemo/realtime/profile.py `interest_keys`),
    which the consumer looks up so the actor never reads the catalog."""

    event: Event
    keys: list[str] = Field(default_factory=list)


class RecordEvents(ActorMessage):
    """A user's events of one delivery, in acceptance order: folded in in one turn and one state write."""

    events: list[EventForActor]


class RecordExposures(ActorMessage):
    """A user's served lists of one delivery: taken in one turn and one state write."""

    exposures: list[Exposure]
