"""UserProfileActor: one per (tenant, user); Dapr's turn-based access makes each update atomic."""

from __future__ import annotations

import time
from typing import Any

from dapr.actor import Actor

from actors.user_profile import UserProfileActorInterface
from lemo.events import Event
from lemo.exposures import Exposure
from lemo.realtime.profile import RealtimeProfile

_STATE_KEY = "profile"


class UserProfileActor(Actor, UserProfileActorInterface):
    # Seconds the state outlives the user's last event (the store's ttlInSeconds); None keeps it for good. Set by
    # the hosting app from its settings before it registers the actor type.
    state_ttl_s: int | None = None

    async def _load(self) -> RealtimeProfile:
        found, raw = await self._state_manager.try_get_state(_STATE_KEY)
        return RealtimeProfile.model_validate(raw) if found else RealtimeProfile()

    async def record_event(self, payload: dict[str, Any]) -> bool:
        return (await self.record_events({"events": [payload]}))[0]

    async def record_events(self, payload: dict[str, Any]) -> list[bool]:
        events = [(Event.model_validate(p["event"]), [str(k) for k in p.get("keys", [])]) for p in payload["events"]]
        for event, _ in events:
            if event.actor_id != self.id.id:
                raise ValueError(f"event for {event.actor_id} sent to actor {self.id.id}")
        profile = await self._load()
        applied = [profile.apply(event, keys) for event, keys in events]
        await self._save_if(profile, any(applied))
        return applied

    async def record_exposures(self, payload: dict[str, Any]) -> list[bool]:
        exposures = [Exposure.model_validate(e) for e in payload["exposures"]]
        for exposure in exposures:
            if exposure.actor_id != self.id.id:
                raise ValueError(f"exposure for {exposure.actor_id} sent to actor {self.id.id}")
        profile = await self._load()
        applied = [profile.apply_exposure(exposure) for exposure in exposures]
        await self._save_if(profile, any(applied))
        return applied

    async def _save_if(self, profile: RealtimeProfile, changed: bool) -> None:
        if changed:
            await self._state_manager.set_state_ttl(_STATE_KEY, profile.model_dump(mode="json"), self.state_ttl_s)
            await self._state_manager.save_state()

    async def get_profile(self) -> dict[str, Any]:
        return (await self._load()).public_view(time.time())

    async def forget(self) -> None:
        await self._state_manager.try_remove_state(_STATE_KEY)
        await self._state_manager.save_state()
