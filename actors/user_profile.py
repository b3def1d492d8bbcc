"""The per-user realtime profile actor: its interface, shared by callers and the implementation.

Its messages are lemo/realtime/messages.py's models; they travel as their plain JSON, and the actor runtime decodes
the bytes straight into the model each method's annotation names (apps/shared/actor_client.py). So the annotations
here are the classes themselves, not postponed strings: no `from __future__ import annotations`."""

from typing import Any

from dapr.actor import ActorInterface, actormethod

from lemo.realtime.messages import EventForActor, RecordEvents, RecordExposures

ACTOR_TYPE = "UserProfileActor"


class UserProfileActorInterface(ActorInterface):
    @actormethod(name="RecordEvent")
    async def record_event(self, payload: EventForActor) -> bool:
        """Folds one event (with its item's interest keys) in. False when its event_id was already seen (a
        redelivery), in which case nothing changed."""
        raise NotImplementedError

    @actormethod(name="RecordEvents")
    async def record_events(self, payload: RecordEvents) -> list[bool]:
        """Folds the events in, in order, in one turn and one state write; returns, per event, whether it was
        new."""
        raise NotImplementedError

    @actormethod(name="RecordExposures")
    async def record_exposures(self, payload: RecordExposures) -> list[bool]:
        """Served lists, in one turn and one state write; returns, per list, whether it was new (a list already
        taken changes nothing)."""
        raise NotImplementedError

    @actormethod(name="GetProfile")
    async def get_profile(self) -> dict[str, Any]:
        raise NotImplementedError

    @actormethod(name="Forget")
    async def forget(self) -> None:
        """Drops the user's realtime state (the user was deleted)."""
        raise NotImplementedError
