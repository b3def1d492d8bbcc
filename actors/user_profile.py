"""The per-user realtime profile actor: its interface, shared by callers and the implementation."""

from __future__ import annotations

from typing import Any

from dapr.actor import ActorInterface, actormethod

ACTOR_TYPE = "UserProfileActor"


class UserProfileActorInterface(ActorInterface):
    @actormethod(name="RecordEvent")
    async def record_event(self, payload: dict[str, Any]) -> bool:
        """Folds one event in: `{"event": <lemo.events.Event as JSON>, "keys": [<item interest keys>]}`.
        False when its event_id was already seen (a redelivery), in which case nothing changed."""
        raise NotImplementedError

    @actormethod(name="RecordEvents")
    async def record_events(self, payload: dict[str, Any]) -> list[bool]:
        """`{"events": [<RecordEvent payload>, ...]}` in order, in one turn and one state write;
        returns, per event, whether it was new."""
        raise NotImplementedError

    @actormethod(name="RecordExposures")
    async def record_exposures(self, payload: dict[str, Any]) -> list[bool]:
        """`{"exposures": [<lemo.exposures.Exposure as JSON>, ...]}`: served lists, in one turn and one state write;
        returns, per list, whether it was new (a list already taken changes nothing)."""
        raise NotImplementedError

    @actormethod(name="GetProfile")
    async def get_profile(self) -> dict[str, Any]:
        raise NotImplementedError

    @actormethod(name="Forget")
    async def forget(self) -> None:
        """Drops the user's realtime state (the user was deleted)."""
        raise NotImplementedError
