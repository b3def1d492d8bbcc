"""The daily cleanup workflow: for every tenant, in parallel, one activity that deletes expired items, events
and served lists (exposures) past retention, the artifacts of model versions beyond the keep-count, and old run exports.

Each deletion is idempotent, so a retried or resumed activity does no harm.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, WorkflowActivityContext, when_all
from pydantic import BaseModel, Field

from lemo.artifacts import ArtifactStore
from lemo.registry import ModelStatus
from lemo.stores.exposures import ExposureArchive
from lemo.stores.mongo import EventArchive, ItemRepository, ModelRegistry
from workflows import training_activities

logger = logging.getLogger(__name__)

CLEANUP_WORKFLOW = "cleanup"
CLEANUP_TENANT = "cleanup_tenant"


class CleanupRequest(BaseModel):
    tenant_ids: list[str]
    retention_days: float = Field(gt=0)
    keep_versions: int = Field(ge=0)
    keep_runs_days: float = Field(gt=0)
    # Served lists' retention; None (a request from before it existed): the events' retention.
    exposure_retention_days: float | None = Field(None, gt=0)


class TenantCleanup(BaseModel):
    tenant_id: str
    now: float
    retention_days: float
    keep_versions: int
    keep_runs_days: float
    exposure_retention_days: float | None = None


def cleanup_workflow(ctx: DaprWorkflowContext, request: CleanupRequest) -> Generator[Any, Any, dict[str, Any]]:
    now = ctx.current_utc_datetime.timestamp()
    tasks: list[Any] = [
        ctx.call_activity(
            CLEANUP_TENANT,
            input=TenantCleanup(
                tenant_id=t,
                now=now,
                retention_days=request.retention_days,
                keep_versions=request.keep_versions,
                keep_runs_days=request.keep_runs_days,
                exposure_retention_days=request.exposure_retention_days,
            ).model_dump(),
        )
        for t in request.tenant_ids
    ]
    if not tasks:
        return {"tenants": {}}
    results = yield when_all(tasks)
    return {"tenants": {r["tenant_id"]: r for r in results}}


async def cleanup_tenant(_: WorkflowActivityContext, request: TenantCleanup) -> dict[str, Any]:
    async with training_activities.mongo_session() as db:
        expired_items = await ItemRepository(db).delete_expired(
            request.tenant_id, datetime.fromtimestamp(request.now, UTC)
        )
        expired_events = await EventArchive(db, request.retention_days).purge_expired(request.tenant_id, request.now)
        exposures = ExposureArchive(db, request.exposure_retention_days or request.retention_days)
        expired_lists = await exposures.purge_expired(request.tenant_id, request.now)
        registry = ModelRegistry(db)
        store = ArtifactStore(training_activities.deps().artifact_uri)
        pruned = 0
        for kind in await registry.kinds(request.tenant_id):
            for version in await registry.prune(request.tenant_id, kind, request.keep_versions):
                store.delete(version.artifact_uri)
                pruned += 1
                siblings = await registry.for_run(request.tenant_id, version.run_id)
                vectors = store.vectors_file(request.tenant_id, version.run_id)
                if vectors.exists() and all(v.status == ModelStatus.PRUNED for v in siblings):
                    vectors.unlink()
    runs_dir = store.runs_root(request.tenant_id)
    old_runs = 0
    if runs_dir.exists():
        cutoff = request.now - request.keep_runs_days * 86400
        for run in runs_dir.iterdir():
            if run.stat().st_mtime < cutoff:
                shutil.rmtree(run, ignore_errors=True)
                old_runs += 1
    logger.info(
        "cleanup as of %.0f: %d expired items, %d old events, %d old served lists, %d pruned versions, %d old runs",
        request.now,
        expired_items,
        expired_events,
        expired_lists,
        pruned,
        old_runs,
        extra={"tenant_id": request.tenant_id},
    )
    return {
        "tenant_id": request.tenant_id,
        "expired_items": expired_items,
        "expired_events": expired_events,
        "expired_exposures": expired_lists,
        "pruned_versions": pruned,
        "old_runs": old_runs,
        "at": time.time(),
    }
