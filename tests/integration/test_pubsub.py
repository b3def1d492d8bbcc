"""Pub/sub through real sidecars, on the Redis Streams and on the Kafka profile: the events app publishes ->
profiles app's subscription -> per-user actor; a malformed message -> the dead-letter topic."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from apps.shared.settings import EVENTS_TOPIC, PUBSUB
from tests.integration.conftest import unique
from tests.integration.mesh import App, port_open, uvicorn

KAFKA_PORT = 19092


@pytest.fixture(params=["redis", "kafka"])
def mesh(request: pytest.FixtureRequest, app_env: dict[str, str]) -> Iterator[tuple[App, App]]:
    profile = request.param
    if profile == "kafka" and not port_open(KAFKA_PORT):
        pytest.fail("Kafka is not running on 127.0.0.1:19092; `make test` starts it (scripts/infra.sh up kafka)")
    profiles = App(unique("profiles"), uvicorn("apps.profiles.main"), profile=profile, env=app_env).start()
    events = App(unique("events"), uvicorn("apps.events.main"), profile=profile, env=app_env).start()
    yield events, profiles
    events.stop()
    profiles.stop()


def _wait_for(fetch: Any, done: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def _realtime(profiles: App, tenant: str, user: str) -> dict[str, Any]:
    url = f"{profiles.sidecar}/v1.0/invoke/{profiles.app_id}/method/users/{tenant}/{user}/realtime"
    resp = httpx.get(url, headers=profiles.headers, timeout=10)
    return resp.json() if resp.status_code == 200 else {}


def test_events_flow_to_the_actor_once_each(mesh: tuple[App, App], tenant: str) -> None:
    events, profiles = mesh
    track = f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/events"
    sent = []
    for item in ("i1", "i2", "i3"):
        resp = httpx.post(
            track,
            json={"tenant_id": tenant, "user_id": "u1", "item_id": item, "type": "view"},
            headers=events.headers,
            timeout=10,
        )
        assert resp.status_code == 202, resp.text
        sent.append(resp.json()["event_id"])
    # A client retry of an accepted event (same event_id) must not count twice.
    resp = httpx.post(
        track,
        json={"tenant_id": tenant, "user_id": "u1", "item_id": "i3", "type": "view", "event_id": sent[-1]},
        headers=events.headers,
        timeout=10,
    )
    assert resp.status_code == 202

    profile = _wait_for(
        lambda: _realtime(profiles, tenant, "u1"), lambda p: p.get("type_counts", {}).get("view", 0) >= 3
    )
    assert profile["type_counts"] == {"view": 3}
    assert sorted(profile["recent_items"]) == ["i1", "i2", "i3"]


def test_invalid_event_is_rejected_before_publishing(mesh: tuple[App, App], tenant: str) -> None:
    events, _ = mesh
    track = f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/events"
    resp = httpx.post(
        track,
        json={"tenant_id": tenant, "user_id": "u1", "item_id": "i1", "type": "teleport"},
        headers=events.headers,
        timeout=10,
    )
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["errors"][0]["loc"] == ["body", "type"]


async def test_malformed_message_goes_to_the_dead_letter_topic(
    mesh: tuple[App, App], tenant: str, db: AsyncDatabase[dict[str, Any]]
) -> None:
    events, _ = mesh
    marker = uuid.uuid4().hex
    # Published straight to the topic, bypassing the events app's validation: the consumer must not lose it.
    bad = {"tenant_id": tenant, "user_id": "u1", "type": "view", "marker": marker}
    resp = httpx.post(
        f"{events.sidecar}/v1.0/publish/{PUBSUB}/{EVENTS_TOPIC}",
        content=json.dumps(bad),
        headers={"content-type": "application/json", **events.headers},
        timeout=10,
    )
    assert resp.status_code == 204, resp.text

    deadline = time.monotonic() + 60
    found = None
    while found is None and time.monotonic() < deadline:
        found = await db["dead_letters"].find_one({"data.marker": marker})
        if found is None:
            await asyncio.sleep(0.25)
    assert found is not None, "the rejected message never reached the dead-letter subscription"
    assert found["data"]["tenant_id"] == tenant
