"""/runs: start offline workflows and follow them; /cron-* routes are the cron bindings' triggers."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import APIRouter, HTTPException, Request, status

from apps.shared.settings import CRON_CLEANUP, CRON_POPULARITY
from apps.shared.workflow_state import workflow_state
from lemo.stores.exposures import ExposureArchive
from lemo.stores.mongo import EventArchive, ItemRepository
from workflows.cleanup import CLEANUP_WORKFLOW, CleanupRequest
from workflows.popularity import POPULARITY_WORKFLOW, PopularityRequest

logger = logging.getLogger(__name__)

router = APIRouter(tags=["runs"])


async def _start_popularity(client: DaprWorkflowClient, request: PopularityRequest) -> str:
    return await client.schedule_new_workflow(POPULARITY_WORKFLOW, input=request.model_dump())


@router.post("/runs/popularity", status_code=status.HTTP_202_ACCEPTED)
async def start_popularity(body: PopularityRequest, request: Request) -> dict[str, str]:
    instance_id = await _start_popularity(request.app.state.workflows, body)
    return {"instance_id": instance_id}


@router.get("/runs/{instance_id}")
async def run_status(instance_id: str, request: Request) -> dict[str, Any]:
    client: DaprWorkflowClient = request.app.state.workflows
    state = await workflow_state(client, instance_id)
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "run_not_found", "instance_id": instance_id})
    output = state.serialized_output
    return {
        "instance_id": instance_id,
        "workflow": state.name,
        "status": state.runtime_status.name,
        "output": json.loads(output) if output else None,
        "failure": state.failure_details.message if state.failure_details else None,
    }


@router.post(f"/{CRON_POPULARITY}")
async def cron_popularity(request: Request) -> dict[str, Any]:
    """Fired by the cron binding of the same name: refresh every tenant's popular list."""
    archive: EventArchive = request.app.state.archive
    settle_s = request.app.state.settings.popularity_settle_s
    started = []
    for tenant_id in await archive.tenants():
        started.append(
            await _start_popularity(
                request.app.state.workflows, PopularityRequest(tenant_id=tenant_id, settle_s=settle_s)
            )
        )
    logger.info("cron %s started %d popularity runs at %.0f", CRON_POPULARITY, len(started), time.time())
    return {"started": started}


@router.post(f"/{CRON_CLEANUP}")
async def cron_cleanup(request: Request) -> dict[str, Any]:
    """Fired by the daily cron binding: expired items, old events and served lists, surplus model artifacts, old run
    exports."""
    archive: EventArchive = request.app.state.archive
    items: ItemRepository = request.app.state.items
    exposures: ExposureArchive = request.app.state.exposures
    settings = request.app.state.settings
    tenants = sorted(set(await archive.tenants()) | set(await items.tenants()) | set(await exposures.tenants()))
    cleanup = CleanupRequest(
        tenant_ids=tenants,
        retention_days=settings.archive_retention_days,
        keep_versions=settings.keep_versions,
        keep_runs_days=settings.keep_runs_days,
        exposure_retention_days=settings.exposure_retention_days,
    )
    client: DaprWorkflowClient = request.app.state.workflows
    instance_id = await client.schedule_new_workflow(CLEANUP_WORKFLOW, input=cleanup.model_dump())
    logger.info("cron %s started cleanup %s for %d tenants", CRON_CLEANUP, instance_id, len(tenants))
    return {"instance_id": instance_id, "tenants": len(tenants)}
