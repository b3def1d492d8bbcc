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
from apps.shared.app import create_app
from apps.shared.tuning import ready_to_serve
from lemo.artifacts import ArtifactStore
from lemo.stores.mongo import ItemRepository, ModelRegistry, open_database

settings = RerankSettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    metadata = MetadataCache(ItemRepository(db), settings.metadata_ttl_s, settings.metadata_cache_items)
    embeddings = EmbeddingSource(
        ModelRegistry(db), ArtifactStore(settings.artifact_uri), settings.embedding_kinds, settings.embeddings_refresh_s
    )
    app.state.stage = RerankStage(metadata, embeddings, drop_unknown=settings.unknown_items == "drop")
    ready_to_serve()  # apps/shared/tuning.py: GC and math threads
    yield
    await db.client.close()


app = create_app("rerank", settings, [rerank.router], lifespan)
