"""/v1/feeds: the caller's tenant's precomputed feeds (served by the feeds app): refresh them all now, and follow
the runs. `mode=cached` reads serve these feeds; the feeds app also refreshes them on events and every hour."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.deps import DownstreamDep, SettingsDep
from apps.gateway.openapi import TENANT_ERRORS
from lemo.events import Identifier

router = APIRouter(prefix="/v1/feeds", tags=["feeds"], responses=TENANT_ERRORS)


@router.post("/refresh", status_code=status.HTTP_202_ACCEPTED)
async def refresh_feeds(down: DownstreamDep, settings: SettingsDep, who: Principal = Writer) -> Response:
    """Recomputes the feed of every user with history (feed-refresh workflows of many users each); answers the
    number of users and the run ids."""
    return await down.relay(settings.feeds_app, "POST", f"refresh/{who.tenant_id}")


@router.get("/refresh/{run_id}")
async def refresh_run(
    run_id: Identifier, down: DownstreamDep, settings: SettingsDep, who: Principal = Reader
) -> Response:
    """A refresh run's status and, once done, how many feeds it saved and how many were degraded."""
    return await down.relay(settings.feeds_app, "GET", f"refresh/{who.tenant_id}/{run_id}")
