"""profiles: hosts the user-profile and item-popularity actors; consumes the events and items topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from dapr.actor.runtime.config import ActorRuntimeConfig
from dapr.actor.runtime.runtime import ActorRuntime
from dapr.ext.fastapi import DaprActor
from fastapi import FastAPI

from actors.item_popularity_actor import ItemPopularityActor
from actors.user_profile_actor import UserProfileActor
from apps.profiles import deadletters, hot, ingest, realtime, users
from apps.profiles.attributes import AttributeCache
from apps.profiles.service import DeadLetterQueue, Profiles
from apps.profiles.settings import ProfilesSettings
from apps.profiles.subscriptions import subscribe
from apps.shared.actor_client import ACTOR_SERIALIZER, actor_client
from apps.shared.actor_fastpath import ActorFastPath
from apps.shared.app import create_app
from apps.shared.security import app_api_token
from lemo.stores.mongo import ItemRepository, UserRepository, open_database

settings = ProfilesSettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    ActorRuntime.set_actor_config(
        ActorRuntimeConfig(
            actor_idle_timeout=timedelta(seconds=settings.actor_idle_timeout_s),
            actor_scan_interval=timedelta(seconds=settings.actor_scan_interval_s),
        )
    )
    # Both actor types save their state over kept-alive sidecar connections (apps/shared/actor_client.py).
    UserProfileActor.state_ttl_s = settings.actor_state_ttl_s or None
    # Plain JSON for their messages and state (apps/shared/actor_client.py says why).
    for actor_type in (UserProfileActor, ItemPopularityActor):
        await actor.register_actor(
            actor_type,
            actor_client=actor_client(),
            message_serializer=ACTOR_SERIALIZER,
            state_serializer=ACTOR_SERIALIZER,
        )
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    user_repo = UserRepository(db)
    await user_repo.ensure_indexes()
    app.state.profiles = Profiles(user_repo, AttributeCache(user_repo, settings.attributes_cache_s))
    app.state.dead_letters = DeadLetterQueue(db["dead_letters"])
    app.state.realtime = rt = ingest.Realtime(
        users=ingest.KnownUsers(user_repo),
        items=realtime.ItemFeatures(ItemRepository(db), settings.item_features_refresh_s),
        hot=realtime.HotCounter(settings.hot_flush_s),
        turns=asyncio.Semaphore(settings.actor_call_concurrency),
    )
    rt.hot.start()
    yield
    await rt.hot.stop()


# /healthz comes first (create_app), before DaprActor, whose own /healthz would shadow it.
app = create_app("profiles", settings, [users.router, hot.router, deadletters.router], lifespan)
actor = DaprActor(app)
app.add_middleware(ActorFastPath, token=app_api_token())  # actor turns skip the app's stack
subscribe(app, settings)
