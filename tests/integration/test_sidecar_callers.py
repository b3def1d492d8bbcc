"""Calling the platform through one's own sidecar, from a separate Dapr app (tests/integration/caller_app.py):
HTTP service invocation of the gateway (/v1.0/invoke/<gateway>/method/v1/...) with the Dapr Python SDK, and the
public gRPC service lemoproto.v1.Lemo through Dapr's gRPC proxy. The gRPC API listens on its own port (50051), so it
has its own sidecar and app id (`gateway-grpc` in dapr.yaml): daprd proxies gRPC only to an app whose protocol is
grpc, and the gateway's app port speaks HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import unique
from tests.integration.mesh import ROOT, App, free_port, uvicorn

ADMIN_KEY = "it-admin-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def mesh(app_env: dict[str, str]) -> Iterator[dict[str, App]]:
    apps: dict[str, App] = {}
    try:
        for name in ("catalog", "profiles", "events"):
            apps[name] = App(unique(name), uvicorn(f"apps.{name}.main"), env=app_env).start()
        grpc_port = free_port()
        env = {
            **app_env,
            "LEMO_ADMIN_KEY": ADMIN_KEY,
            "LEMO_GATEWAY_GRPC_PORT": str(grpc_port),
            **{f"GATEWAY_{n.upper()}_APP": apps[n].app_id for n in ("catalog", "profiles", "events")},
        }
        apps["gateway"] = App(unique("gateway"), uvicorn("apps.gateway.main"), env=env).start()
        apps["gateway-grpc"] = App(
            unique("gateway-grpc"), None, app_protocol="grpc", app_port=grpc_port, fronts_port=True
        ).start()
        apps["caller"] = App(unique("caller"), None, dapr_api_token="").start()  # the tenant's own sidecar
        yield apps
    finally:
        for app in apps.values():
            app.stop()


def test_a_separate_dapr_app_calls_the_gateway_over_http_and_grpc_through_its_sidecar(mesh: dict[str, App]) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    created = httpx.post(
        f"http://127.0.0.1:{mesh['gateway'].app_port}/v1/admin/tenants",
        json={"tenant_id": tenant},
        headers={"X-Admin-Key": ADMIN_KEY},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    caller = mesh["caller"]
    env = {**os.environ, "DAPR_GRPC_PORT": str(caller.grpc_port), "DAPR_HTTP_PORT": str(caller.http_port)}
    env.pop("DAPR_API_TOKEN", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.caller_app",
            mesh["gateway"].app_id,
            mesh["gateway-grpc"].app_id,
            key,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["http"]["put"] == 200 and out["http"]["get"] == 200
    assert out["http"]["item"]["title"] == "via invoke_method"
    assert out["http_without_key"] == 401
    assert out["grpc"] == {"upserted": "grpc-1", "read": ["sdk-1", "via invoke_method"]}
    assert out["grpc_without_key"] == "UNAUTHENTICATED"

    # The raw HTTP form of the same call, through the caller's sidecar.
    url = f"{caller.sidecar}/v1.0/invoke/{mesh['gateway'].app_id}/method/v1/items/grpc-1"
    resp = httpx.get(url, headers={"X-API-Key": key}, timeout=10)
    assert resp.status_code == 200 and resp.json()["title"] == "via proxy"
