"""UserProfileActor through a real sidecar: state survives deactivation and restarts; dedupe by event_id with no
small window; served lists (exposures) taken once each, never as interest."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import unique
from tests.integration.mesh import App, uvicorn

REDIS_PORT = 6380  # scripts/infra.sh's Redis, behind the statestore component
STATE_TTL_S = 600


@pytest.fixture
def profiles(app_env: dict[str, str]) -> Iterator[App]:
    # Idle actors are deactivated after 1 s, so a short pause proves state comes back from the store.
    env = {
        **app_env,
        "PROFILES_ACTOR_IDLE_TIMEOUT_S": "1",
        "PROFILES_ACTOR_SCAN_INTERVAL_S": "1",
        "PROFILES_ACTOR_STATE_TTL_S": str(STATE_TTL_S),
    }
    app = App(unique("profiles"), uvicorn("apps.profiles.main"), env=env).start()
    yield app
    app.stop()


def _event(tenant: str, user: str, item: str, event_id: str | None = None) -> dict[str, Any]:
    event = {
        "tenant_id": tenant,
        "user_id": user,
        "item_id": item,
        "type": "click",
        "event_id": event_id or uuid.uuid4().hex,
        "timestamp": time.time(),
    }
    return {"event": event, "keys": ["c:drama"]}


def _call(app: App, actor_id: str, method: str, body: object | None = None) -> httpx.Response:
    """Calls the actor through the sidecar's actor API, waiting out placement updates after a (re)start."""
    url = f"{app.sidecar}/v1.0/actors/UserProfileActor/{actor_id}/method/{method}"
    deadline = time.monotonic() + 30
    while True:
        resp = (
            httpx.post(url, json=body, headers=app.headers, timeout=10)
            if body is not None
            else httpx.get(url, headers=app.headers, timeout=10)
        )
        settling = "connection refused" in resp.text or "did not find address" in resp.text
        if not settling or time.monotonic() > deadline:
            return resp
        time.sleep(0.5)


def test_actor_state_survives_deactivation_and_app_restart(profiles: App, tenant: str) -> None:
    actor_id = f"{tenant}:u1"
    # Item ids that read like a duration and a date stay strings in the message and in the stored state.
    first = _event(tenant, "u1", "5m")
    assert _call(profiles, actor_id, "RecordEvent", first).json() is True
    assert _call(profiles, actor_id, "RecordEvent", _event(tenant, "u1", "2024-01-02")).json() is True
    # At-least-once delivery: the same event_id again changes nothing.
    assert _call(profiles, actor_id, "RecordEvent", first).json() is False

    time.sleep(3)  # past the idle timeout: the actor is deactivated
    profile = _call(profiles, actor_id, "GetProfile").json()
    assert profile["recent_items"] == ["2024-01-02", "5m"]
    assert profile["type_counts"] == {"click": 2}
    assert profile["window_1h"] == {"c:drama": 2}

    profiles.restart_app()  # a new process: nothing can come from memory
    profile = _call(profiles, actor_id, "GetProfile").json()
    assert profile["recent_items"] == ["2024-01-02", "5m"]
    assert profile["type_counts"] == {"click": 2}


def test_actor_rejects_an_event_of_another_user_or_tenant(profiles: App, tenant: str) -> None:
    foreign = _event("someone-else", "u1", "i1")
    resp = _call(profiles, f"{tenant}:u1", "RecordEvent", foreign)
    assert resp.status_code >= 400
    assert _call(profiles, f"{tenant}:u1", "GetProfile").json()["type_counts"] == {}


def test_realtime_features_endpoint_reads_the_actor(profiles: App, tenant: str) -> None:
    _call(profiles, f"{tenant}:u7", "RecordEvent", _event(tenant, "u7", "i9"))
    url = f"{profiles.sidecar}/v1.0/invoke/{profiles.app_id}/method/users/{tenant}/u7/realtime"
    body = httpx.get(url, headers=profiles.headers, timeout=10).json()
    assert body["tenant_id"] == tenant and body["user_id"] == "u7"
    assert body["recent_items"] == ["i9"]
    # Another tenant's user with the same id is a different actor with nothing in it.
    other = httpx.get(url.replace(f"/users/{tenant}/", "/users/tother/"), headers=profiles.headers, timeout=10).json()
    assert other["recent_items"] == []


def test_a_users_state_expires_after_the_ttl_from_their_last_event(profiles: App, tenant: str) -> None:
    actor_id = f"{tenant}:u-ttl"
    assert _call(profiles, actor_id, "RecordEvent", _event(tenant, "u-ttl", "i1")).json() is True
    # The actor state store keeps the key with a TTL (its keyPrefix none: app id || actor type || id || name).
    key = f"{profiles.app_id}||UserProfileActor||{actor_id}||profile"
    ttl = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "TTL", key], capture_output=True, text=True, check=True)
    assert STATE_TTL_S - 60 < int(ttl.stdout.strip()) <= STATE_TTL_S, ttl.stdout


def _stable(profile: dict[str, object]) -> dict[str, object]:
    # window_1h and interests are computed at read time from the clock; the stored counters and items are compared.
    return {k: profile.get(k) for k in ("type_counts", "recent_items", "last_active", "shown_items")}


def test_a_redelivery_after_a_hundred_newer_events_changes_nothing(profiles: App, tenant: str) -> None:
    actor_id = f"{tenant}:u-late"
    accepted = time.time()

    def stamped(n: int) -> dict[str, Any]:
        payload = _event(tenant, "u-late", f"i{n}", event_id=f"{tenant}-e{n}")
        payload["event"]["accepted_at"] = accepted + n / 1000  # as the events app stamps it
        return payload

    first = stamped(0)
    assert _call(profiles, actor_id, "RecordEvent", first).json() is True
    newer = _call(profiles, actor_id, "RecordEvents", {"events": [stamped(n) for n in range(1, 101)]})
    assert newer.json() == [True] * 100, newer.text
    before = _call(profiles, actor_id, "GetProfile").json()
    assert before["type_counts"] == {"click": 101}

    # The user's first event again, as a broker redelivery brings it after 100 newer ones: nothing changes.
    assert _call(profiles, actor_id, "RecordEvent", first).json() is False
    assert _call(profiles, actor_id, "RecordEvents", {"events": [first, stamped(50)]}).json() == [False, False]
    time.sleep(3)  # deactivated: what follows comes from the stored state
    after = _call(profiles, actor_id, "GetProfile").json()
    assert _stable(after) == _stable(before)
    # The state as stored (the statestore keeps it in a hash's `data` field) stays within the 1 KB budget.
    key = f"{profiles.app_id}||UserProfileActor||{actor_id}||profile"
    stored = subprocess.run(
        ["redis-cli", "-p", str(REDIS_PORT), "HGET", key, "data"], capture_output=True, check=True
    ).stdout.rstrip(b"\n")
    assert 200 < len(stored) <= 1024, len(stored)


def test_a_served_list_is_taken_once_and_never_as_interest(profiles: App, tenant: str) -> None:
    actor_id = f"{tenant}:u-shown"

    def served(request_id: str, items: list[str]) -> dict[str, Any]:
        return {
            "request_id": request_id,
            "tenant_id": tenant,
            "user_id": "u-shown",
            "scenario": "home",
            "variant": "control",
            "items": items,
            "timestamp": time.time(),
        }

    lists = [served("r1", ["5m", "b", "c"]), served("r2", ["d", "b"])]
    assert _call(profiles, actor_id, "RecordExposures", {"exposures": lists}).json() == [True, True]
    assert _call(profiles, actor_id, "RecordExposures", {"exposures": lists[:1]}).json() == [False]
    profile = _call(profiles, actor_id, "GetProfile").json()
    assert profile["shown_items"] == ["d", "b", "5m", "c"]  # the newest list first, each in served order
    assert profile["type_counts"] == {} and profile["recent_items"] == [] and profile["interests"] == {}
    foreign = served("r3", ["x"]) | {"tenant_id": "someone-else"}
    assert _call(profiles, actor_id, "RecordExposures", {"exposures": [foreign]}).status_code >= 400


def test_the_read_paths_context_sees_attribute_writes_at_once(profiles: App, tenant: str) -> None:
    """The context the read path asks for keeps users' attributes in memory (apps/profiles/attributes.py); a write
    through the app is seen by the next read, and another tenant's same user id stays apart."""
    base = f"{profiles.sidecar}/v1.0/invoke/{profiles.app_id}/method/users"

    def context(t: str) -> dict[str, Any]:
        resp = httpx.get(f"{base}/{t}/u-attr/context", headers=profiles.headers, timeout=10)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    assert context(tenant)["attributes"] == {}  # unknown yet: a new user
    put = httpx.put(f"{base}/{tenant}/u-attr", json={"attributes": {"plan": "free"}}, headers=profiles.headers)
    assert put.status_code == 200, put.text
    assert context(tenant)["attributes"] == {"plan": "free"}
    patch = httpx.patch(f"{base}/{tenant}/u-attr", json={"attributes": {"plan": "pro"}}, headers=profiles.headers)
    assert patch.status_code == 200, patch.text
    assert context(tenant)["attributes"] == {"plan": "pro"}
    assert context(f"{tenant}x")["attributes"] == {}
    assert httpx.delete(f"{base}/{tenant}/u-attr", headers=profiles.headers).status_code == 204
    assert context(tenant)["attributes"] == {}
