"""/runs: start a popularity workflow and follow any workflow run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from apps.trainer.deps import TrainerDep
from apps.trainer.schemas import PopularityRequest

router = APIRouter(prefix="/runs", tags=["runs"])


@router.post("/popularity", status_code=status.HTTP_202_ACCEPTED)
async def start_popularity(body: PopularityRequest, trainer: TrainerDep) -> dict[str, str]:
    return {"instance_id": await trainer.start_popularity(body)}


@router.get("/{instance_id}")
async def run_status(instance_id: str, trainer: TrainerDep) -> dict[str, Any]:
    state = await trainer.run_status(instance_id)
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "run_not_found", "instance_id": instance_id})
    return state
