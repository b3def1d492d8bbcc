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
from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.security import require_app_token
from apps.shared.tuning import ready_to_serve

settings = RecallSettings()
configure_logging("recall", settings.log_level)
parts = build(settings)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    app.state.recaller = parts.recaller
    preloading = asyncio.create_task(parts.models.preload(settings.preload_versions))
    ready_to_serve()  # apps/shared/tuning.py: GC and math threads
    yield
    preloading.cancel()
    await parts.aclose()


app = FastAPI(title="lemo recall", lifespan=lifespan)
install_error_handlers(app)
install_observability(app)
require_app_token(app)  # every route but /healthz: callers come through the sidecar
app.include_router(health_router("recall"))
app.include_router(recall.router)
app.include_router(similar.router)
app.include_router(popular.router)
subscribe(app, settings.pubsub_name, parts.models, parts.catalog)
