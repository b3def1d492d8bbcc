"""The trainer's popularity workflow through a real sidecar: it completes, it resumes after the app is killed
mid-run, and the cron binding starts it on schedule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from apps.shared.settings import STATE_STORE
from lemo.events import Event, EventType
from lemo.popularity import archived_marker_key
from lemo.stores.mongo import EventArchive, TenantRepository
from lemo.tenancy import Tenant
from tests.integration.conftest import unique
from tests.integration.mesh import ROOT, App, uvicorn
from workflows.popularity_activities import popular_state_key


@pytest.fixture
def trainer(app_env: dict[str, str]) -> Iterator[App]:
    app = App(unique("trainer"), uvicorn("apps.trainer.main"), env=app_env).start()
    yield app
    app.stop()


async def _archive(db: AsyncDatabase[dict[str, Any]], tenant: str) -> None:
    archive = EventArchive(db, retention_days=30)
    await archive.ensure_indexes()
    now = time.time()
    clicks = {"hit": 5, "warm": 2, "cold": 1}
    for item, n in clicks.items():
        for k in range(n):
            await archive.append(
                Event(tenant_id=tenant, user_id=f"u{k}", item_id=item, type=EventType.CLICK, timestamp=now)
            )
    await archive.append(
        Event(tenant_id=tenant, user_id="u9", item_id="cold", type=EventType.IMPRESSION, timestamp=now)
    )


def _start(trainer: App, tenant: str, settle_s: float = 0.0) -> str:
    url = f"{trainer.sidecar}/v1.0/invoke/{trainer.app_id}/method/runs/popularity"
    resp = httpx.post(url, json={"tenant_id": tenant, "settle_s": settle_s}, headers=trainer.headers, timeout=10)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["instance_id"])


def _status(trainer: App, instance_id: str) -> dict[str, Any]:
    url = f"{trainer.sidecar}/v1.0/invoke/{trainer.app_id}/method/runs/{instance_id}"
    resp = httpx.get(url, headers=trainer.headers, timeout=10)
    return resp.json() if resp.status_code == 200 else {"status": f"http {resp.status_code}"}


def _wait_status(trainer: App, instance_id: str, wanted: set[str], timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = _status(trainer, instance_id)
        if status["status"] in wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.25)


def _popular(sidecar: App, tenant: str) -> dict[str, Any] | None:
    url = f"{sidecar.sidecar}/v1.0/state/{STATE_STORE}/{popular_state_key(tenant)}"
    resp = httpx.get(url, headers=sidecar.headers, timeout=10)
    return resp.json() if resp.status_code == 200 else None


async def test_workflow_completes(
    trainer: App, db: AsyncDatabase[dict[str, Any]], tenant: str, bare_sidecar: App
) -> None:
    await _archive(db, tenant)
    run = _wait_status(trainer, _start(trainer, tenant), {"COMPLETED", "FAILED"})
    assert run["status"] == "COMPLETED", run
    assert run["output"]["items"] == 3
    popular = _popular(bare_sidecar, tenant)
    assert popular is not None
    assert [i["item_id"] for i in popular["items"]] == ["hit", "warm", "cold"]


async def test_workflow_resumes_after_the_app_is_killed_mid_run(
    trainer: App, db: AsyncDatabase[dict[str, Any]], tenant: str, bare_sidecar: App
) -> None:
    await _archive(db, tenant)
    instance_id = _start(trainer, tenant, settle_s=4)
    assert _wait_status(trainer, instance_id, {"RUNNING"})["status"] == "RUNNING"

    trainer.kill_app()  # kill -9 while the workflow waits on its durable timer
    assert _popular(bare_sidecar, tenant) is None
    trainer.restart_app()

    run = _wait_status(trainer, instance_id, {"COMPLETED", "FAILED"}, timeout_s=90)
    assert run["status"] == "COMPLETED", run
    assert [i["item_id"] for i in (_popular(bare_sidecar, tenant) or {})["items"]] == ["hit", "warm", "cold"]


async def test_cron_binding_starts_the_workflow(
    app_env: dict[str, str], own_db: AsyncDatabase[dict[str, Any]], tenant: str, bare_sidecar: App
) -> None:
    # A database of its own, holding one tenant, so each tick starts one run, not one per tenant of the session.
    await TenantRepository(own_db).create(Tenant(tenant_id=tenant))
    await _archive(own_db, tenant)
    committed = (ROOT / "components" / "cron-popularity.yaml").read_text()
    assert '"@every 15m"' in committed
    fast = committed.replace('"@every 15m"', '"@every 1s"')
    trainer = App(
        unique("trainer"),
        uvicorn("apps.trainer.main"),
        env={**app_env, "LEMO_MONGODB_DATABASE": own_db.name},
        component_overrides={"cron-popularity.yaml": fast},
    )
    # The binding is scoped to the app id `trainer`, as in the mesh.
    trainer.app_id = "trainer"
    trainer.start()
    try:
        deadline = time.monotonic() + 60
        while _popular(bare_sidecar, tenant) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        popular = _popular(bare_sidecar, tenant)
        assert popular is not None, f"cron never produced a popular list:\n{trainer.logs()}"
        assert popular["items"][0]["item_id"] == "hit"

        # Ticks that find the archive unchanged start nothing (each run would scan the archive again) ...
        await asyncio.sleep(4)
        assert (_popular(bare_sidecar, tenant) or {})["computed_at"] == popular["computed_at"]
        # ... until the events app marks new events archived for the tenant.
        marker = {"key": archived_marker_key(tenant), "value": {"at": time.time()}}
        stored = httpx.post(
            f"{bare_sidecar.sidecar}/v1.0/state/{STATE_STORE}", json=[marker], headers=bare_sidecar.headers, timeout=10
        )
        assert stored.status_code == 204, stored.text
        deadline = time.monotonic() + 60
        while (_popular(bare_sidecar, tenant) or {})["computed_at"] == popular["computed_at"]:
            assert time.monotonic() < deadline, f"new events never started a run:\n{trainer.logs()}"
            await asyncio.sleep(0.5)
    finally:
        trainer.stop()
