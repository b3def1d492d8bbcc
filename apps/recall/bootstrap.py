"""Builds the recall app's parts from its settings: the one place they are wired together."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from apps.recall.catalog import FIELDS, CatalogView
from apps.recall.channels import Channels
from apps.recall.model_cache import ModelCache
from apps.recall.service import Recaller
from apps.recall.settings import RecallSettings
from apps.recall.sources import HotSource, PopularStateSource
from apps.shared.sidecar import SidecarHttp, sidecar_http
from lemo.artifacts import ArtifactStore
from lemo.stores.mongo import ItemRepository, ModelRegistry, open_database
from lemo.stores.vectors import VectorIndex


@dataclass
class Parts:
    recaller: Recaller
    models: ModelCache
    catalog: CatalogView
    http: SidecarHttp
    executor: ThreadPoolExecutor
    loader: ThreadPoolExecutor

    async def aclose(self) -> None:
        self.models.close()
        await self.http.aclose()
        for pool in (self.executor, self.loader):
            pool.shutdown(wait=False, cancel_futures=True)


def _preload_milvus_lite() -> None:
    """Imports Milvus Lite's server (and faiss with it) now, at start-up: imported by the first model load instead,
    the 1-2 s of imports under the GIL stalled the event loop past the sidecar's health probe timeout."""
    try:
        importlib.import_module("milvus_lite.adapter.grpc.server")
    except ImportError:  # a Milvus server (LEMO_MILVUS_URI) needs no Milvus Lite
        pass


def build(settings: RecallSettings) -> Parts:
    torch.set_num_threads(settings.torch_threads)  # request threads already run in parallel
    _preload_milvus_lite()
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    items = ItemRepository(db)

    async def scan(tenant_id: str) -> list[dict[str, Any]]:
        return [doc async for doc in items.scan(tenant_id, FIELDS)]

    executor = ThreadPoolExecutor(max(1, settings.workers), thread_name_prefix="recall")
    loader = ThreadPoolExecutor(1, thread_name_prefix="recall-load")
    http = sidecar_http(settings.sidecar_timeout_s)
    models = ModelCache(
        ModelRegistry(db),
        ArtifactStore(settings.artifact_uri),
        loader,
        settings.registry_recheck_s,
        open_vectors=VectorIndex,
        exact_search_max_items=settings.exact_search_max_items,
    )
    catalog = CatalogView(scan, settings.catalog_refresh_s)
    hot = HotSource(settings.hot_cache_s)
    popular_state = PopularStateSource(http, settings.state_store, settings.popular_state_cache_s)
    channels = Channels(
        models,
        catalog,
        hot,
        popular_state,
        executor if settings.workers else None,
        settings.tag_interests,
        settings.inline_max_items,
    )
    recaller = Recaller(
        models,
        catalog,
        channels,
        hot,
        popular_state,
        executor,
        history_wait_s=settings.history_wait_s,
        history_max=settings.history_max,
        overfetch=settings.overfetch,
    )
    return Parts(recaller, models, catalog, http, executor, loader)
