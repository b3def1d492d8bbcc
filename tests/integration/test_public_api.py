"""The public API through the gateway, with catalog, profiles and events behind their real sidecars:
tenancy and keys, items, users, events, bad input, and a cross-tenant attempt on every endpoint."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lemo_cli.loaders import load_interactions
from lemo_client import Conflict, LemoClient, NotFound, ValidationFailed
from tests.integration.conftest import unique
from tests.integration.mesh import App, uvicorn

ADMIN_KEY = "it-admin-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def mesh(app_env: dict[str, str]) -> Iterator[dict[str, App]]:
    apps = {
        "catalog": App(unique("catalog"), uvicorn("apps.catalog.main"), env=app_env).start(),
        "profiles": App(unique("profiles"), uvicorn("apps.profiles.main"), env=app_env).start(),
        "events": App(unique("events"), uvicorn("apps.events.main"), env=app_env).start(),
        "trainer": App(unique("trainer"), uvicorn("apps.trainer.main"), env=app_env).start(),
    }
    env = {
        **app_env,
        "LEMO_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_CATALOG_APP": apps["catalog"].app_id,
        "GATEWAY_PROFILES_APP": apps["profiles"].app_id,
        "GATEWAY_EVENTS_APP": apps["events"].app_id,
        "GATEWAY_TRAINER_APP": apps["trainer"].app_id,
    }
    apps["gateway"] = App(unique("gateway"), uvicorn("apps.gateway.main"), env=env).start()
    yield apps
    for app in apps.values():
        app.stop()


@pytest.fixture(scope="module")
def admin(mesh: dict[str, App]) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"http://127.0.0.1:{mesh['gateway'].app_port}", timeout=30, headers={"X-Admin-Key": ADMIN_KEY}
    ) as client:
        yield client


class TenantClient(httpx.Client):
    tenant_id: str


def _tenant(admin: httpx.Client) -> TenantClient:
    tenant_id = f"t{uuid.uuid4().hex[:10]}"
    resp = admin.post("/v1/admin/tenants", json={"tenant_id": tenant_id, "name": "Test"})
    assert resp.status_code == 201, resp.text
    client = TenantClient(base_url=str(admin.base_url), timeout=30, headers={"X-API-Key": resp.json()["api_key"]})
    client.tenant_id = tenant_id
    return client


@pytest.fixture
def api(admin: httpx.Client) -> Iterator[TenantClient]:
    with _tenant(admin) as client:
        yield client


@pytest.fixture
def other(admin: httpx.Client) -> Iterator[httpx.Client]:
    with _tenant(admin) as client:
        yield client


def _error(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


def _wait(fetch: Any, done: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = fetch()
    return value


def test_tenant_administration_needs_the_admin_key(admin: httpx.Client) -> None:
    plain = httpx.Client(base_url=str(admin.base_url), timeout=10)
    assert _error(plain.post("/v1/admin/tenants", json={"tenant_id": "x1"})) == "invalid_admin_key"
    bad = plain.post("/v1/admin/tenants", json={"tenant_id": "x1"}, headers={"X-Admin-Key": "wrong"})
    assert bad.status_code == 401
    tenant_id = f"t{uuid.uuid4().hex[:10]}"
    assert admin.post("/v1/admin/tenants", json={"tenant_id": tenant_id}).status_code == 201
    assert _error(admin.post("/v1/admin/tenants", json={"tenant_id": tenant_id})) == "tenant_exists"
    assert admin.post("/v1/admin/tenants", json={"tenant_id": "Has:Colon"}).status_code == 422
    body = admin.get(f"/v1/admin/tenants/{tenant_id}").json()
    assert len(body["keys"]) == 1 and "secret_sha256" not in json.dumps(body)


def test_keys_401_403_and_revocation(admin: httpx.Client, mesh: dict[str, App]) -> None:
    base = str(admin.base_url)
    tenant_id = f"t{uuid.uuid4().hex[:10]}"
    admin.post("/v1/admin/tenants", json={"tenant_id": tenant_id})
    read_only = admin.post(f"/v1/admin/tenants/{tenant_id}/keys", json={"scopes": ["read"]}).json()
    assert _error(httpx.get(f"{base}/v1/items")) == "missing_api_key"
    assert (
        _error(httpx.get(f"{base}/v1/items", headers={"X-API-Key": "lemo_0123456789abcdef_nope"})) == "invalid_api_key"
    )
    ro = {"X-API-Key": read_only["api_key"]}
    assert httpx.get(f"{base}/v1/items", headers=ro).status_code == 200
    denied = httpx.post(f"{base}/v1/items", headers=ro, json={"item_id": "i1"})
    assert denied.status_code == 403 and _error(denied) == "insufficient_scope"
    assert admin.delete(f"/v1/admin/tenants/{tenant_id}/keys/{read_only['key_id']}").status_code == 204
    # The gateway trusts a resolved key for its cache TTL (30 s by default); a new gateway process sees it at once.
    gateway = App(
        unique("gateway"), uvicorn("apps.gateway.main"), env={**mesh["gateway"].env, "GATEWAY_KEY_CACHE_TTL_S": "0"}
    ).start()
    try:
        assert httpx.get(f"http://127.0.0.1:{gateway.app_port}/v1/items", headers=ro).status_code == 401
    finally:
        gateway.stop()


def test_item_lifecycle_and_bad_input(api: httpx.Client) -> None:
    assert api.post("/v1/items", json={"item_id": "m1", "title": "Heat", "categories": ["crime"]}).status_code == 201
    assert _error(api.post("/v1/items", json={"item_id": "m1"})) == "item_exists"
    assert api.patch("/v1/items/m1", json={"tags": ["1995"]}).json()["title"] == "Heat"
    assert _error(api.patch("/v1/items/nope", json={"title": "x"})) == "item_not_found"
    assert api.put("/v1/items/m2", json={"title": "Ronin", "categories": ["crime", "action"]}).status_code == 200
    api.put("/v1/items/m3", json={"title": "Up", "categories": ["animation"], "hidden": True})
    assert [i["item_id"] for i in api.get("/v1/items", params={"category": "crime"}).json()["items"]] == ["m1", "m2"]
    assert [i["item_id"] for i in api.get("/v1/items", params={"hidden": False}).json()["items"]] == ["m1", "m2"]
    page = api.get("/v1/items", params={"limit": 2}).json()
    assert page["next"] == "m2"
    assert [i["item_id"] for i in api.get("/v1/items", params={"after": page["next"]}).json()["items"]] == ["m3"]

    assert _error(api.put("/v1/items/m1", json={"colour": "red"})) == "invalid_request"  # unknown field
    assert _error(api.put("/v1/items/m1", json={"hidden": "sometimes"})) == "invalid_request"  # wrong type
    malformed = api.put("/v1/items/m1", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and _error(malformed) == "malformed_json"
    assert api.delete("/v1/items/m1").status_code == 204
    assert api.get("/v1/items/m1").status_code == 404


def test_batch_upsert_streams_ten_thousand_items_and_reports_bad_lines(api: httpx.Client) -> None:
    def lines() -> Iterator[bytes]:
        for n in range(10_000):
            yield (
                json.dumps({"item_id": f"b{n:05d}", "title": f"Item {n}", "categories": [f"c{n % 7}"]}) + "\n"
            ).encode()
            if n == 5000:
                yield b'{"item_id": "bad one"}\n{broken\n'

    resp = api.post("/v1/items/batch", content=lines(), headers={"content-type": "application/x-ndjson"}, timeout=120)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["accepted"], body["rejected"]) == (10_000, 2)
    assert [e["line"] for e in body["errors"]] == [5002, 5003]
    assert api.get("/v1/items/b09999").json()["categories"] == ["c3"]  # 9999 % 7
    assert api.post("/v1/items/batch", json=[{"item_id": "x"}]).status_code == 415


def test_users_and_batch_get(api: httpx.Client) -> None:
    assert api.put("/v1/users/u1", json={"attributes": {"age": 31, "gender": "F"}}).status_code == 200
    assert api.patch("/v1/users/u1", json={"attributes": {"locale": "fr"}}).json()["attributes"] == {
        "age": 31,
        "gender": "F",
        "locale": "fr",
    }
    assert _error(api.patch("/v1/users/ghost", json={"attributes": {}})) == "user_not_found"
    api.put("/v1/users/u2", json={})
    body = api.post("/v1/users/batch-get", json={"user_ids": ["u2", "ghost", "u1"]}).json()
    assert [u["user_id"] for u in body["users"]] == ["u2", "u1"] and body["missing"] == ["ghost"]
    assert api.post("/v1/users/batch-get", json={"user_ids": [f"u{n}" for n in range(501)]}).status_code == 422
    nd = b'{"user_id": "u3", "attributes": {"age": 20}}\n{"user_id": ""}\n'
    batch = api.post("/v1/users/batch", content=nd, headers={"content-type": "application/x-ndjson"}).json()
    assert (batch["accepted"], batch["rejected"]) == (1, 1)
    assert api.delete("/v1/users/u3").status_code == 204
    assert api.get("/v1/users/u3").status_code == 404


def test_events_reach_the_realtime_profile_and_stats(api: TenantClient, mesh: dict[str, App]) -> None:
    now = time.time()
    api.put("/v1/items/m9", json={"title": "Casino", "categories": ["crime", "drama"], "tags": ["scorsese"]})
    resp = api.post(
        "/v1/events", json={"user_id": "fan", "item_id": "m9", "type": "rate", "value": 4.5, "timestamp": now}
    )
    assert resp.status_code == 202, resp.text
    event_id = resp.json()["event_id"]
    assert api.post("/v1/events", json={"user_id": "fan", "item_id": "m9", "type": "rate"}).status_code == 422
    assert (
        api.post("/v1/events", json={"user_id": "fan", "item_id": "m9", "type": "view", "tenant_id": "x"}).status_code
        == 422
    )  # the tenant comes from the key, never from the body

    events = [{"user_id": "fan", "item_id": f"m{n}", "type": "click", "timestamp": now} for n in range(3)]
    events.insert(1, {"user_id": "fan", "item_id": "m1", "type": "teleport"})
    events.append({"user_id": "fan", "item_id": "m9", "type": "rate", "value": 4.5, "event_id": event_id})  # a resend
    batch = api.post("/v1/events/batch", json={"events": events}).json()
    assert [r["status"] for r in batch["results"]] == ["accepted", "rejected", "accepted", "accepted", "accepted"]
    assert batch["results"][1]["error"]["code"] == "invalid_event"
    too_many = api.post("/v1/events/batch", json={"events": [events[0]] * 1001})
    assert too_many.status_code == 413 and _error(too_many) == "batch_too_large"

    profile = _wait(
        lambda: api.get("/v1/users/fan/realtime").json(), lambda p: sum(p.get("type_counts", {}).values()) >= 4
    )
    assert profile["type_counts"] == {"rate": 1, "click": 3}
    # m9 is in the catalog, so its categories and tag feed the windowed and long-term interests; m0-m2 are
    # not (yet): their events count, but add no interest keys.
    assert profile["window_1h"] == {"c:crime": 1, "c:drama": 1, "t:scorsese": 1}
    assert set(profile["interests"]) == {"c:crime", "c:drama", "t:scorsese"}
    profiles = mesh["profiles"]
    hot_url = f"{profiles.sidecar}/v1.0/invoke/{profiles.app_id}/method/hot/{api.tenant_id}"
    hot = _wait(
        lambda: httpx.get(hot_url, headers=profiles.headers, timeout=10).json()["items"], lambda items: len(items) >= 4
    )
    assert hot[0]["item_id"] == "m9"  # a rating weighs more than a click
    assert {i["item_id"] for i in hot} == {"m0", "m1", "m2", "m9"}
    assert api.get("/v1/users/fan").json()["implicit"] is True  # created by its first event
    stats = _wait(lambda: api.get("/v1/events/stats", params={"since": now - 60}).json(), lambda s: s["total"] >= 4)
    assert stats["counts"] == {"rate": 1, "click": 3}


def test_a_flood_of_new_users_keeps_the_profiles_app_in_service(api: TenantClient) -> None:
    """3,000 events of 3,000 new users: whole deliveries of one event per user, the most actor turns per event (run
    32 at a time, each tried up to three times). Every user's actor gets its event, and nothing waits on a
    redelivery: a profiles app taken out of service mid-delivery (its health probe unanswered) would leave events
    to the broker's redelivery or the dead letter."""
    now = time.time()
    for batch in range(3):
        events = [
            {"user_id": f"flood{batch}-{n}", "item_id": f"f{n % 50}", "type": "click", "timestamp": now}
            for n in range(1000)
        ]
        assert api.post("/v1/events/batch", json={"events": events}, timeout=60).json()["accepted"] == 1000
    for user in ("flood0-0", "flood1-500", "flood2-999"):
        profile = _wait(
            lambda u=user: api.get(f"/v1/users/{u}/realtime").json(),
            lambda p: p.get("type_counts") == {"click": 1},
            timeout_s=90,
        )
        assert profile["type_counts"] == {"click": 1}, user


def test_no_endpoint_crosses_tenants(api: httpx.Client, other: httpx.Client) -> None:
    api.put("/v1/items/secret", json={"title": "Mine"})
    api.put("/v1/users/alice", json={"attributes": {"age": 40}})
    api.post("/v1/events", json={"user_id": "alice", "item_id": "secret", "type": "like"})
    _wait(lambda: api.get("/v1/users/alice/realtime").json(), lambda p: p.get("type_counts"))

    assert other.get("/v1/items/secret").status_code == 404
    assert other.get("/v1/items").json()["items"] == []
    assert other.patch("/v1/items/secret", json={"title": "Theirs"}).status_code == 404
    assert other.delete("/v1/items/secret").status_code == 404
    assert other.post("/v1/items", json={"item_id": "secret"}).status_code == 201  # their own, separate item
    assert api.get("/v1/items/secret").json()["title"] == "Mine"

    assert other.get("/v1/users/alice").status_code == 404
    assert other.patch("/v1/users/alice", json={"attributes": {"age": 1}}).status_code == 404
    assert other.delete("/v1/users/alice").status_code == 404
    assert other.post("/v1/users/batch-get", json={"user_ids": ["alice"]}).json()["missing"] == ["alice"]
    assert other.get("/v1/users/alice/realtime").json()["recent_items"] == []
    assert other.get("/v1/events/stats").json()["total"] == 0
    assert api.get("/v1/users/alice").json()["attributes"] == {"age": 40}


def test_interactions_loader_is_safe_to_run_twice(admin: httpx.Client, tmp_path: Any) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    csv = tmp_path / "interactions.csv"
    csv.write_text(
        "user_id,item_id,timestamp,value\nalice,book-1,1700000000,4\nalice,book-2,1700000100000,\n"
        "bob,book-1,2023-11-14T22:13:20Z,5\n"
    )
    with LemoClient(str(admin.base_url), admin_key=ADMIN_KEY) as client:
        client.ensure_tenant(tenant)
        first = load_interactions(client, csv, quiet=True)
        again = load_interactions(client, csv, quiet=True)
        assert (
            (first.items, first.users, first.events_accepted)
            == (2, 2, 3)
            == (again.items, again.users, again.events_accepted)
        )
        assert client.get_item("book-2")["item_id"] == "book-2"
        profile = _wait(lambda: client.realtime_features("alice"), lambda p: len(p["recent_items"]) >= 2)
        assert profile["type_counts"] == {"rate": 1, "click": 1}  # a row without a value is a click
        # Each row is archived once, however often the file was loaded.
        _wait(lambda: client.event_stats(since=0), lambda s: s["total"] >= 3)
        time.sleep(2)
        assert client.event_stats(since=0)["counts"] == {"rate": 2, "click": 1}


def test_models_api_trains_lists_and_activates_per_tenant(api: TenantClient, other: httpx.Client) -> None:
    lemo = LemoClient(str(api.base_url), api_key=api.headers["X-API-Key"], timeout_s=30)
    stranger = LemoClient(str(other.base_url), api_key=other.headers["X-API-Key"], timeout_s=30)
    now = time.time()
    events = [
        {"user_id": f"u{u}", "item_id": f"i{(u + k) % 12}", "type": "click", "timestamp": now - 100 + k}
        for u in range(30)
        for k in range(4)
    ]
    assert lemo.track_batch(events)["accepted"] == len(events)
    _wait(lambda: lemo.event_stats(since=now - 200), lambda s: s["total"] >= 120)

    with pytest.raises(ValidationFailed) as invalid:
        lemo.train_model({"kinds": ["no-such-model"]})
    # The gateway's schema names the model kinds, so an unknown one is refused there, the field pointed at.
    assert invalid.value.code == "invalid_request"
    assert invalid.value.details["errors"][0]["loc"][:2] == ["body", "kinds"]
    with pytest.raises(ValidationFailed) as invalid:
        lemo.train_model({"evaluation_users": -1})  # bounded at the gateway: 0 (every holdout user) to 1,000,000
    assert invalid.value.details["errors"][0]["loc"][:2] == ["body", "evaluation_users"]
    run_id = lemo.train_model({"kinds": ["popular", "item_cf"]})
    run = _wait(lambda: lemo.training_run(run_id), lambda r: r["status"] != "RUNNING", 120)
    assert run["status"] == "COMPLETED", run
    assert run["output"]["exported"]["interactions"] == len(events)
    assert run["progress"]["done"] == run["progress"]["total"]

    listing = lemo.model_versions()
    assert listing["active"] == {"item_cf": 1, "popular": 1}
    assert {v["kind"]: v["metrics"]["hr@10"] >= 0 for v in listing["versions"]} == {"item_cf": True, "popular": True}
    with pytest.raises(Conflict) as conflict:
        lemo.rollback_model("item_cf")
    assert conflict.value.code == "no_previous_version"

    # Another tenant can neither see nor touch any of it.
    with pytest.raises(NotFound):
        stranger.training_run(run_id)
    assert stranger.model_versions() == {"active": {}, "versions": []}
    with pytest.raises(NotFound) as missing:
        stranger.activate_model("item_cf", 1)
    assert missing.value.code == "version_not_found"


def test_every_app_serves_prometheus_metrics(api: TenantClient, mesh: dict[str, App]) -> None:
    api.post("/v1/events/batch", json={"events": [{"user_id": "m", "item_id": "i", "type": "view"}, {"bad": 1}]})
    gateway = httpx.get(f"http://127.0.0.1:{mesh['gateway'].app_port}/metrics", timeout=10).text
    assert 'route="/v1/events/batch"' in gateway and 'lemo_events_total{outcome="invalid"}' in gateway
    # Scraped on the app port directly, like /healthz: open without the app token.
    events = httpx.get(f"http://127.0.0.1:{mesh['events'].app_port}/metrics", timeout=10)
    assert events.status_code == 200 and 'lemo_events_total{outcome="accepted"}' in events.text
    for name in ("catalog", "profiles", "trainer"):
        assert httpx.get(f"http://127.0.0.1:{mesh[name].app_port}/metrics", timeout=10).status_code == 200
