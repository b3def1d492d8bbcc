"""/tenants/{tenant_id}: training runs and model versions per tenant (the gateway's /v1/models API relays here).

Every path carries the tenant; a run or version of another tenant is answered like one that does not exist.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, status

from apps.trainer.deps import TrainerDep
from apps.trainer.schemas import ActivateBody, TrainOptions
from lemo.events import Identifier
from lemo.tenancy import TenantId

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/tenants", tags=["training"])


@router.post("/{tenant_id}/runs", status_code=status.HTTP_202_ACCEPTED)
async def start_training(tenant_id: TenantId, body: TrainOptions, trainer: TrainerDep) -> dict[str, str]:
    run_id = await trainer.start_training(tenant_id, body)
    logger.info("started training run %s", run_id, extra={"tenant_id": tenant_id})
    return {"run_id": run_id}


@router.get("/{tenant_id}/runs/{run_id}")
async def training_run(tenant_id: TenantId, run_id: Identifier, trainer: TrainerDep) -> dict[str, Any]:
    return await trainer.training_run(tenant_id, run_id)


@router.get("/{tenant_id}/models")
async def model_versions(
    tenant_id: TenantId, trainer: TrainerDep, kind: Identifier | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    return await trainer.model_versions(tenant_id, kind, limit)


@router.post("/{tenant_id}/models/{kind}/activate")
async def activate_version(
    tenant_id: TenantId, kind: Identifier, body: ActivateBody, trainer: TrainerDep
) -> dict[str, Any]:
    return await trainer.activate(tenant_id, kind, body.version)


@router.post("/{tenant_id}/models/{kind}/rollback")
async def rollback(tenant_id: TenantId, kind: Identifier, trainer: TrainerDep) -> dict[str, Any]:
    """Re-activates the version that was active before the current one."""
    return await trainer.rollback(tenant_id, kind)
