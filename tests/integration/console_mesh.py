"""The operator console's test mesh: every app with its sidecar behind a gateway with an admin key, and a tenant
with the MovieLens sample, trained models and a few live events (tests/integration/test_console.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from lemo.scenarios import default_scenario
from tests.integration.conftest import MONGODB_URI, unique
from tests.integration.mesh import App, python_module, uvicorn
from tests.integration.trained import load_sample, train_in_process

ADMIN_KEY = "it-admin-" + uuid.uuid4().hex


def start_mesh(app_env: dict[str, str], artifacts: Path) -> dict[str, App]:
    """Starts every app the console reaches (the trainer included) and the gateway; stops them all on failure."""
    env = {**app_env, "LEMO_ARTIFACT_URI": str(artifacts)}
    ranking = App(unique("ranking"), python_module("apps.ranking.main"), app_protocol="grpc", env=env)
    ranking.env["RANKING_APP_PORT"] = str(ranking.app_port)
    apps = {
        "catalog": App(unique("catalog"), uvicorn("apps.catalog.main"), env=env),
        "profiles": App(unique("profiles"), uvicorn("apps.profiles.main"), env=env),
        "events": App(unique("events"), uvicorn("apps.events.main"), env=env),
        "recall": App(unique("recall"), uvicorn("apps.recall.main"), env=env),
        "ranking": ranking,
        "rerank": App(unique("rerank"), uvicorn("apps.rerank.main"), env=env),
        "trainer": App(unique("trainer"), uvicorn("apps.trainer.main"), env=env),
    }
    try:
        for app in apps.values():
            app.start()
        gateway_env = {
            **env,
            "LEMO_ADMIN_KEY": ADMIN_KEY,
            **{f"GATEWAY_{name.upper()}_APP": app.app_id for name, app in apps.items()},
            "GATEWAY_MESH_APPS": json.dumps([a.app_id for a in apps.values()]),
            # Generous deadlines: this 2-core machine runs every app, sidecar, store and the browser at once.
            **{f"GATEWAY_{s}_DEADLINE_S": "5" for s in ("RECALL", "RANKING", "RERANK", "PROFILE", "POPULAR")},
            "GATEWAY_RATE_LIMIT_PER_S": "0",
            "GATEWAY_SCENARIO_CACHE_TTL_S": "0.5",
            # Long enough for daprd's retries toward a stopped sidecar to end in its own error, not a timeout.
            "GATEWAY_STATUS_TIMEOUT_S": "15",
        }
        apps["gateway"] = App(unique("gateway"), uvicorn("apps.gateway.main"), env=gateway_env).start()
    except BaseException:
        stop_mesh(apps)
        raise
    return apps


def stop_mesh(apps: dict[str, App]) -> None:
    for app in apps.values():
        app.stop()


def base_url(mesh: dict[str, App]) -> str:
    return f"http://127.0.0.1:{mesh['gateway'].app_port}"


def new_tenant(mesh: dict[str, App], name: str = "") -> tuple[str, str]:
    """A new tenant through the admin API: its id and first key."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    resp = httpx.post(
        f"{base_url(mesh)}/v1/admin/tenants",
        json={"tenant_id": tenant, "name": name},
        headers={"X-Admin-Key": ADMIN_KEY},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return tenant, str(resp.json()["api_key"])


async def trained_tenant(mesh: dict[str, App], database_name: str, artifacts: Path) -> tuple[str, str, httpx.Client]:
    """A tenant with MovieLens users 1..40, their films, every serving model trained and active, a `home` scenario
    with deadlines this shared machine can keep, and three clicks of user 1 stamped now."""
    tenant, key = new_tenant(mesh, "Console demo")
    client = httpx.Client(base_url=base_url(mesh), headers={"X-API-Key": key}, timeout=60)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    await load_sample(mongo[database_name], tenant)
    await mongo.close()
    await train_in_process(MONGODB_URI, database_name, tenant, artifacts)
    home = default_scenario("home").model_dump(mode="json", by_alias=True)
    for channel in home["channels"]:
        channel["deadline_ms"] = 1000
    assert client.put("/v1/scenarios/home", json=home).status_code == 201
    until(lambda: not client.get("/v1/users/1/recommendations", params={"count": 10}).json()["degraded"], 120, 1)
    now = time.time()
    events = [
        {"user_id": "1", "item_id": item, "type": "click", "timestamp": now - i}
        for i, item in enumerate(["50", "181", "258"])
    ]
    assert client.post("/v1/events/batch", json={"events": events}).json()["accepted"] == 3
    return tenant, key, client


def until(check: Callable[[], Any], timeout_s: float = 60, every_s: float = 0.5) -> Any:
    """`check()`'s first truthy answer, or its last answer once `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every_s)
