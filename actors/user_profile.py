"""The per-user realtime profile actor: its interface, shared by callers and the implementation."""

from __future__ import annotations

from typing import Any

from dapr.actor import ActorInterface, actormethod

ACTOR_TYPE = "UserProfileActor"


class UserProfileActorInterface(ActorInterface):
    @actormethod(name="RecordEvent")
    async def record_event(self, event: dict[str, Any]) -> bool:
        """Folds one event (a `lemo.events.Event` as JSON) in; False when its event_id was already seen."""
        raise NotImplementedError

    @actormethod(name="GetProfile")
    async def get_profile(self) -> dict[str, Any]:
        raise NotImplementedError

    @actormethod(name="Forget")
    async def forget(self) -> None:
        """Drops the user's realtime state (the user was deleted)."""
        raise NotImplementedError
