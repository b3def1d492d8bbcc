"""/v1/models: training runs and model versions of the caller's tenant (served by the trainer app)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.deps import DownstreamDep, SettingsDep
from apps.gateway.openapi import TENANT_ERRORS
from apps.shared.errors import error_responses
from lemo.events import Identifier
from lemo.registry import ActivateBody, TrainOptions

router = APIRouter(prefix="/v1/models", tags=["models"], responses=TENANT_ERRORS)


@router.post("/train", status_code=status.HTTP_202_ACCEPTED)
async def start_training(
    down: DownstreamDep, settings: SettingsDep, body: TrainOptions | None = None, who: Principal = Writer
) -> Response:
    """Starts a training run (the train workflow) and answers its run id; follow it at /v1/models/runs/{id}."""
    app_id = settings.trainer_app
    options = (body or TrainOptions()).model_dump(mode="json", exclude_none=True)
    return await down.relay(app_id, "POST", f"tenants/{who.tenant_id}/runs", json=options)


@router.get("/runs/{run_id}")
async def training_run(
    run_id: Identifier, down: DownstreamDep, settings: SettingsDep, who: Principal = Reader
) -> Response:
    """A run's status, per-step progress and, once done, each model's version, metrics and activation."""
    app_id = settings.trainer_app
    return await down.relay(app_id, "GET", f"tenants/{who.tenant_id}/runs/{run_id}")


@router.get("")
async def model_versions(
    down: DownstreamDep,
    settings: SettingsDep,
    kind: Identifier | None = None,
    limit: int = Query(100, ge=1, le=1000),
    who: Principal = Reader,
) -> Response:
    """Model versions with their holdout metrics, newest first per kind, and which one of each kind serves."""
    app_id = settings.trainer_app
    return await down.relay(app_id, "GET", f"tenants/{who.tenant_id}/models", params={"kind": kind, "limit": limit})


@router.post("/{kind}/activate")
async def activate_version(
    kind: Identifier, body: ActivateBody, down: DownstreamDep, settings: SettingsDep, who: Principal = Writer
) -> Response:
    app_id = settings.trainer_app
    return await down.relay(app_id, "POST", f"tenants/{who.tenant_id}/models/{kind}/activate", json=body.model_dump())


@router.post("/{kind}/rollback", responses=error_responses(409))
async def rollback(kind: Identifier, down: DownstreamDep, settings: SettingsDep, who: Principal = Writer) -> Response:
    """Re-activates the version of `kind` that served before the current one."""
    app_id = settings.trainer_app
    return await down.relay(app_id, "POST", f"tenants/{who.tenant_id}/models/{kind}/rollback")
