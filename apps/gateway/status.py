"""/v1/status: every app's health, asked through the sidecars (service invocation), never directly; for an app that
does not answer, whether its sidecar did."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from dapr.aio.clients import DaprClient
from fastapi import APIRouter, Response, status

from apps.gateway.deps import Dapr, SettingsDep

router = APIRouter(prefix="/v1/status", tags=["status"])

MESH_DOWN: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "an app did not answer its health check: the same body, with healthy false",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


async def _probe(client: DaprClient, app_id: str, timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        resp = await asyncio.wait_for(client.invoke_method(app_id, "healthz", http_verb="GET"), timeout=timeout_s)
        body = json.loads(resp.data or b"{}")
        ok = body.get("status") == "ok"
        return {
            "ok": ok,
            "sidecar": True,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "version": body.get("version"),
        }
    except Exception as exc:  # one app down must not hide the others
        error = str(exc)
        return {
            "ok": False,
            "sidecar": sidecar_answered(error),
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "error": error[:300],
        }


def sidecar_answered(error: str) -> bool | None:
    """Whether the app's own sidecar answered a failed health call, from daprd's invocation error: True when it
    says its app did not ("error invoking app channel", connection refused or "app is not in a healthy state"),
    False when the app's sidecar could not be reached ("failed to invoke target ... after N retries"), None when the
    error says neither (a timeout)."""
    if "error invoking app channel" in error:
        return True
    if "failed to invoke target" in error:
        return False
    return None


@router.get("", responses=MESH_DOWN)
async def mesh_status(settings: SettingsDep, client: Dapr, response: Response) -> dict[str, Any]:
    results = await asyncio.gather(*(_probe(client, a, settings.status_timeout_s) for a in settings.mesh_apps))
    apps = dict(zip(settings.mesh_apps, results, strict=True))
    healthy = all(r["ok"] for r in results)
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"healthy": healthy, "apps": apps}
