"""rerank: the rule chain (diversity, freshness, business rules) over ranked candidates with their catalog metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from apps.rerank import rerank
from apps.rerank.embeddings import EmbeddingSource
from apps.rerank.metadata import MetadataCache
from apps.rerank.settings import RerankSettings
from apps.rerank.stage import RerankStage
from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.security import require_app_token
from apps.shared.tuning import ready_to_serve
from lemo.artifacts import ArtifactStore
from lemo.stores.mongo import ItemRepository, ModelRegistry, open_database

settings = RerankSettings()
configure_logging("rerank", settings.log_level)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    metadata = MetadataCache(ItemRepository(db), settings.metadata_ttl_s, settings.metadata_cache_items)
    embeddings = EmbeddingSource(
        ModelRegistry(db), ArtifactStore(settings.artifact_uri), settings.embedding_kinds, settings.embeddings_refresh_s
    )
    app.state.settings = settings
    app.state.stage = RerankStage(metadata, embeddings, drop_unknown=settings.unknown_items == "drop")
    ready_to_serve()  # apps/shared/tuning.py: GC and math threads
    yield
    await db.client.close()


app = FastAPI(title="lemo rerank", lifespan=lifespan)
install_error_handlers(app)
install_observability(app)
require_app_token(app)  # every route but /healthz: callers come through the sidecar
app.include_router(health_router("rerank"))
app.include_router(rerank.router)
