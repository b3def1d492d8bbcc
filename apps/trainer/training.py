"""Training runs and model versions per tenant (the gateway's /v1/models API relays here).

Every path carries the tenant; a run or version of another tenant is answered like one that does not exist.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from dapr.aio.clients import DaprClient
from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import APIRouter, Query, Request, status

from apps.shared.errors import ApiError
from apps.shared.observability import TRAINING_RUNS
from apps.shared.settings import CRON_TRAIN, MODELS_TOPIC
from apps.shared.workflow_state import workflow_state
from lemo.events import Identifier
from lemo.registry import ActivateBody, ModelVersion, TrainOptions
from lemo.stores.mongo import EventArchive, ModelRegistry
from lemo.tenancy import TenantId
from workflows.training import TRAIN_WORKFLOW, TrainRequest
from workflows.training_activities import activation_event

logger = logging.getLogger(__name__)

router = APIRouter(tags=["training"])


def run_id_for(tenant_id: str) -> str:
    return f"train-{tenant_id}-{uuid.uuid4().hex[:12]}"


async def start_run(client: DaprWorkflowClient, request: TrainRequest) -> str:
    TRAINING_RUNS.labels("api").inc()
    return await client.schedule_new_workflow(
        TRAIN_WORKFLOW, input=request.model_dump(mode="json"), instance_id=run_id_for(request.tenant_id)
    )


@router.post("/tenants/{tenant_id}/runs", status_code=status.HTTP_202_ACCEPTED)
async def start_training(tenant_id: TenantId, body: TrainOptions, request: Request) -> dict[str, str]:
    try:
        train = TrainRequest.model_validate({"tenant_id": tenant_id, **body.model_dump(exclude_none=True)})
    except ValueError as exc:
        raise ApiError(status.HTTP_422_UNPROCESSABLE_ENTITY, "invalid_train_request", str(exc)) from exc
    run_id = await start_run(request.app.state.workflows, train)
    logger.info("started training run %s", run_id, extra={"tenant_id": tenant_id})
    return {"run_id": run_id}


@router.get("/tenants/{tenant_id}/runs/{run_id}")
async def training_run(tenant_id: TenantId, run_id: Identifier, request: Request) -> dict[str, Any]:
    client: DaprWorkflowClient = request.app.state.workflows
    state = await workflow_state(client, run_id) if run_id.startswith(f"train-{tenant_id}-") else None
    owner = json.loads(state.serialized_input or "{}").get("tenant_id") if state is not None else None
    if state is None or state.name != TRAIN_WORKFLOW or owner != tenant_id:
        raise ApiError(status.HTTP_404_NOT_FOUND, "run_not_found", f"no training run {run_id}")
    custom = state.serialized_custom_status
    output = state.serialized_output
    return {
        "run_id": run_id,
        "status": state.runtime_status.name,
        "progress": json.loads(custom) if custom else None,
        "output": json.loads(output) if output else None,
        "failure": state.failure_details.message if state.failure_details else None,
    }


def _registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.registry
    return registry


@router.get("/tenants/{tenant_id}/models")
async def model_versions(
    tenant_id: TenantId, request: Request, kind: Identifier | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    versions = await _registry(request).versions(tenant_id, kind, limit)
    active = {v.kind: v.version for v in versions if v.status == "active"}
    return {"active": active, "versions": [v.model_dump(mode="json", exclude={"tenant_id"}) for v in versions]}


async def _announce(request: Request, tenant_id: str, version: ModelVersion) -> None:
    dapr: DaprClient = request.app.state.dapr
    await dapr.publish_event(
        request.app.state.settings.pubsub_name,
        MODELS_TOPIC,
        json.dumps(activation_event(tenant_id, version)),
        data_content_type="application/json",
    )


@router.post("/tenants/{tenant_id}/models/{kind}/activate")
async def activate_version(
    tenant_id: TenantId, kind: Identifier, body: ActivateBody, request: Request
) -> dict[str, Any]:
    version = await _registry(request).activate(tenant_id, kind, body.version)
    if version is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "version_not_found", f"no {kind} version {body.version} to activate")
    await _announce(request, tenant_id, version)
    return version.model_dump(mode="json", exclude={"tenant_id"})


@router.post("/tenants/{tenant_id}/models/{kind}/rollback")
async def rollback(tenant_id: TenantId, kind: Identifier, request: Request) -> dict[str, Any]:
    """Re-activates the version that was active before the current one."""
    registry = _registry(request)
    previous = await registry.previous(tenant_id, kind)
    if previous is None:
        raise ApiError(status.HTTP_409_CONFLICT, "no_previous_version", f"no earlier active {kind} version")
    version = await registry.activate(tenant_id, kind, previous.version)
    if version is None:
        raise ApiError(status.HTTP_409_CONFLICT, "no_previous_version", f"{kind} version {previous.version} is gone")
    await _announce(request, tenant_id, version)
    return version.model_dump(mode="json", exclude={"tenant_id"})


@router.post(f"/{CRON_TRAIN}")
async def cron_train(request: Request) -> dict[str, Any]:
    """Fired by the nightly cron binding: one training run per tenant with archived events. The run id names the
    day, so a binding that fires twice (a restart, several trainer replicas) still starts one run per night."""
    archive: EventArchive = request.app.state.archive
    client: DaprWorkflowClient = request.app.state.workflows
    day = time.strftime("%Y%m%d", time.gmtime())
    started = []
    for tenant_id in await archive.tenants():
        run_id = f"train-{tenant_id}-nightly-{day}"
        if await workflow_state(client, run_id, fetch_payloads=False) is not None:
            continue
        await client.schedule_new_workflow(
            TRAIN_WORKFLOW, input=TrainRequest(tenant_id=tenant_id).model_dump(mode="json"), instance_id=run_id
        )
        started.append(run_id)
        TRAINING_RUNS.labels("cron").inc()
    logger.info("cron %s started %d training runs", CRON_TRAIN, len(started))
    return {"started": started}
