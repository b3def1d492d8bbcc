"""/cron-*: the cron bindings' triggers (components/cron-*.yaml), each named for its binding."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter

from apps.shared.settings import CRON_CLEANUP, CRON_POPULARITY, CRON_TRAIN
from apps.trainer.deps import TrainerDep

logger = logging.getLogger(__name__)

router = APIRouter(tags=["cron"])


@router.post(f"/{CRON_POPULARITY}")
async def cron_popularity(trainer: TrainerDep) -> dict[str, Any]:
    """Refresh every tenant's popular list."""
    started = await trainer.popularity_for_all()
    logger.info("cron %s started %d popularity runs at %.0f", CRON_POPULARITY, len(started), time.time())
    return {"started": started}


@router.post(f"/{CRON_TRAIN}")
async def cron_train(trainer: TrainerDep) -> dict[str, Any]:
    """Nightly: one training run per tenant with archived events (at most one a night)."""
    started = await trainer.nightly_training()
    logger.info("cron %s started %d training runs", CRON_TRAIN, len(started))
    return {"started": started}


@router.post(f"/{CRON_CLEANUP}")
async def cron_cleanup(trainer: TrainerDep) -> dict[str, Any]:
    """Daily: expired items, old events and served lists, surplus model artifacts, old run exports."""
    started = await trainer.cleanup()
    logger.info("cron %s started cleanup %s for %d tenants", CRON_CLEANUP, started["instance_id"], started["tenants"])
    return started
