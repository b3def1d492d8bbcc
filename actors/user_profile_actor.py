"""UserProfileActor: one per (tenant, user); Dapr's turn-based access makes each update atomic."""

from __future__ import annotations

import time
from typing import Any

from dapr.actor import Actor

from actors.user_profile import UserProfileActorInterface
from lemo.realtime.messages import EventForActor, RecordEvents, RecordExposures
from lemo.realtime.profile import RealtimeProfile

_STATE_KEY = "profile"


class UserProfileActor(Actor, UserProfileActorInterface):
    # Seconds the state outlives the user's last event (the store's ttlInSeconds); None keeps it for good. Set by
    # the hosting app from its settings before it registers the actor type.
    state_ttl_s: int | None = None

    async def _load(self) -> RealtimeProfile:
        found, raw = await self._state_manager.try_get_state(_STATE_KEY)
        return RealtimeProfile.model_validate(raw) if found else RealtimeProfile()

    # The runtime hands each method its message as plain JSON (a dict); a model passed in process is taken too.
    async def record_event(self, payload: EventForActor | dict[str, Any]) -> bool:
        return (await self._record(RecordEvents(events=[EventForActor.model_validate(payload)])))[0]

    async def record_events(self, payload: RecordEvents | dict[str, Any]) -> list[bool]:
        return await self._record(RecordEvents.model_validate(payload))

    async def _record(self, message: RecordEvents) -> list[bool]:
        for sent in message.events:
            if sent.event.actor_id != self.id.id:
                raise ValueError(f"event for {sent.event.actor_id} sent to actor {self.id.id}")
        profile = await self._load()
        applied = [profile.apply(sent.event, sent.keys) for sent in message.events]
        await self._save_if(profile, any(applied))
        return applied

    async def record_exposures(self, payload: RecordExposures | dict[str, Any]) -> list[bool]:
        exposures = RecordExposures.model_validate(payload).exposures
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
