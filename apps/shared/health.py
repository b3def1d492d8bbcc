"""The health endpoint every HTTP app serves at /healthz (the sidecar's app health check polls it)."""

from __future__ import annotations

from fastapi import APIRouter

from lemo import __version__


def health_router(app_id: str) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "app": app_id, "version": __version__}

    return router
