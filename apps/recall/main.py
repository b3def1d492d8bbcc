"""recall: the recall stage; runs the channels of a request concurrently and owns vector search (Milvus Lite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from apps.recall import popular, recall, similar
from apps.recall.bootstrap import build
from apps.recall.settings import RecallSettings
from apps.recall.subscriptions import subscribe
from apps.shared.app import create_app
from apps.shared.tuning import ready_to_serve

settings = RecallSettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.parts = parts = build(settings)
    preloading = asyncio.create_task(parts.models.preload(settings.preload_versions))
    ready_to_serve()  # apps/shared/tuning.py: GC and math threads
    yield
    preloading.cancel()
    await parts.aclose()


app = create_app("recall", settings, [recall.router, similar.router, popular.router], lifespan)
subscribe(app, settings.pubsub_name)
