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
from apps.profiles import deadletters, ingest, realtime, users
from apps.profiles.attributes import AttributeCache
from apps.profiles.settings import ProfilesSettings
from apps.profiles.subscriptions import subscribe
from apps.shared.actor_client import ACTOR_SERIALIZER, actor_client
from apps.shared.actor_fastpath import ActorFastPath
from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.security import app_api_token, require_app_token
from lemo.stores.mongo import ItemRepository, UserRepository, open_database

settings = ProfilesSettings()
configure_logging("profiles", settings.log_level)
db = open_database(settings.mongodb_uri, settings.mongodb_database)
user_repo = UserRepository(db)
rt = ingest.Realtime(
    users=ingest.KnownUsers(user_repo),
    items=realtime.ItemFeatures(ItemRepository(db), settings.item_features_refresh_s),
    hot=realtime.HotCounter(settings.hot_flush_s),
    turns=asyncio.Semaphore(settings.actor_call_concurrency),
)


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
    await user_repo.ensure_indexes()
    app.state.users = user_repo
    app.state.attributes = AttributeCache(user_repo, settings.attributes_cache_s)
    app.state.dead_letters = db["dead_letters"]
    rt.hot.start()
    yield
    await rt.hot.stop()


app = FastAPI(title="lemo profiles", lifespan=lifespan)
install_error_handlers(app)
install_observability(app)
require_app_token(app)  # every route but /healthz: callers come through the sidecar
app.include_router(health_router("profiles"))  # before DaprActor, whose own /healthz would shadow it
actor = DaprActor(app)
app.add_middleware(ActorFastPath, token=app_api_token())  # actor turns skip the app's stack
app.include_router(users.router)
app.include_router(realtime.router)
app.include_router(deadletters.router)


subscribe(app, rt, db["dead_letters"], settings)
