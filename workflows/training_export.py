"""The train workflow's first steps, reading the tenant's stores: the export of archived events, items and users
into the run directory, and beside it the catalog's item texts embedded ahead for the content model."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pandas as pd
from dapr.ext.workflow import WorkflowActivityContext
from pydantic import BaseModel, Field

from lemo.models.loaded_models import release_memory
from lemo.models.text import embed_catalog
from lemo.run_data import (
    archived_after,
    item_meta,
    merge_snapshot,
    read_snapshot,
    rows_frame,
    write_export,
    write_snapshot,
)
from lemo.stores.mongo import EventArchive, ItemRepository, UserRepository
from workflows.training_activities import RunRef, artifacts, deps, mongo_session

logger = logging.getLogger(__name__)

EXPORT = "export_interactions"
EMBED_TEXTS = "embed_item_texts"

ITEM_FIELDS = ("item_id", "title", "categories", "tags", "attributes")
EXPORT_BATCH = 10_000  # archived rows per frame while the export reads the archive


class ExportInput(RunRef):
    max_interactions: int | None = None


async def export_interactions(_: WorkflowActivityContext, request: ExportInput) -> dict[str, Any]:
    """Writes the tenant's archived events (the newest `max_interactions` if set), items and users, reading
    only what was archived since the tenant's snapshot (see lemo/run_data.py)."""
    started, now = time.perf_counter(), time.time()
    settings, store = deps(), artifacts()
    snapshot_path = store.snapshot_file(request.tenant_id)
    snapshot = await asyncio.to_thread(read_snapshot, snapshot_path, now)
    async with mongo_session() as db:
        archive = EventArchive(db, retention_days=settings.retention_days)
        # in frames of EXPORT_BATCH rows: a list of 1,000,000 dicts held the export's peak (1.0 GB over the
        # process's at 1,000,000 events against 0.15 GB in frames)
        batches, batch = [], []
        async for row in archive.training_rows(request.tenant_id, archived_after(snapshot)):
            batch.append(row)
            if len(batch) >= EXPORT_BATCH:
                batches.append(rows_frame(batch))
                batch = []
        if batch or not batches:
            batches.append(rows_frame(batch))
        del batch
        rows = pd.concat(batches, ignore_index=True) if len(batches) > 1 else batches[0]
        del batches
        items = [i async for i in ItemRepository(db).scan(request.tenant_id, ITEM_FIELDS)]
        users = [u async for u in UserRepository(db).scan(request.tenant_id)]
    frame = merge_snapshot(snapshot, rows, retention_cutoff=now - settings.retention_days * 86400)
    await asyncio.to_thread(write_snapshot, snapshot_path, frame, snapshot.full_scan_at if snapshot else now)
    if request.max_interactions is not None and len(frame) > request.max_interactions:
        frame = frame.sort_values("timestamp", kind="stable").tail(request.max_interactions)
    with store.writing(store.run_dir(request.tenant_id, request.run_id)) as tmp:
        counts = write_export(tmp, frame, items, users)
    seconds = time.perf_counter() - started
    logger.info(
        "exported %d interactions (%d read, %s) in %.1f s",
        counts.interactions,
        len(rows),
        "incremental" if snapshot else "full scan",
        seconds,
        extra={"tenant_id": request.tenant_id},
    )
    return {
        "interactions": counts.interactions,
        "items": counts.items,
        "users": counts.users,
        "read": len(rows),
        "incremental": snapshot is not None,
        "seconds": seconds,
    }


class EmbedTextsInput(BaseModel):
    tenant_id: str
    run_id: str
    params: dict[str, Any] = Field(default_factory=dict)  # the content model's params (precision, batch size)


async def embed_item_texts(_: WorkflowActivityContext, request: EmbedTextsInput) -> dict[str, Any]:
    """Embeds the catalog's item texts into the tenant's text-vector cache while the export reads the archive, so
    content training finds every vector there (at 100,000 items: minutes of MiniLM moved off the run's critical
    path, onto the core the export leaves idle). Best effort: if it fails, content training embeds them itself."""
    started = time.perf_counter()
    try:
        async with mongo_session() as db:
            items = [item_meta(d) async for d in ItemRepository(db).scan(request.tenant_id, ITEM_FIELDS)]
        cache_dir = artifacts().text_vectors_dir(request.tenant_id)
        embedded = await asyncio.to_thread(embed_catalog, items, request.params, cache_dir)
    except Exception:  # an optimisation only: the run goes on, and content training embeds what is missing
        logger.exception("embedding item texts ahead of training failed", extra={"tenant_id": request.tenant_id})
        return {"items": 0, "seconds": time.perf_counter() - started, "failed": True}
    finally:
        release_memory()
    return {"items": embedded, "seconds": time.perf_counter() - started, "failed": False}
