"""/v1/status: every app's health, asked through the sidecars (service invocation), never directly."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from dapr.aio.clients import DaprClient
from fastapi import APIRouter, Request, Response, status

router = APIRouter(prefix="/v1/status", tags=["status"])


async def _probe(client: DaprClient, app_id: str, timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        resp = await asyncio.wait_for(client.invoke_method(app_id, "healthz", http_verb="GET"), timeout=timeout_s)
        body = json.loads(resp.data or b"{}")
        ok = body.get("status") == "ok"
        return {
            "ok": ok,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "version": body.get("version"),
        }
    except Exception as exc:  # one app down must not hide the others
        return {"ok": False, "ms": round((time.perf_counter() - started) * 1000, 1), "error": str(exc)[:200]}


@router.get("")
async def mesh_status(request: Request, response: Response) -> dict[str, Any]:
    settings = request.app.state.settings
    client: DaprClient = request.app.state.dapr
    results = await asyncio.gather(*(_probe(client, a, settings.status_timeout_s) for a in settings.mesh_apps))
    apps = dict(zip(settings.mesh_apps, results, strict=True))
    healthy = all(r["ok"] for r in results)
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"healthy": healthy, "apps": apps}
