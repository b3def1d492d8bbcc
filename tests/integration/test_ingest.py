"""Ingest topics through real sidecars and real brokers, with publishers we did not write: the Dapr CLI's
`dapr publish`, a separate app on the Dapr Python SDK (tests/integration/publisher_app.py), and Kafka's own console
producer. Each test creates its tenants after the apps started, so each also shows a new tenant's topics being
subscribed without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from apps.shared.settings import PUBSUB
from lemo.ingest import IngestKind, ingest_topic
from tests.integration.conftest import MONGODB_URI, unique
from tests.integration.mesh import DAPR_HOME, ROOT, App, port_open, uvicorn

KAFKA_PORT = 19092
ADMIN_KEY = "it-admin-" + uuid.uuid4().hex
DAPR_CLI = DAPR_HOME / "bin" / "dapr"
KAFKA_LIBS = Path(os.environ.get("LEMO_CACHE", Path.home() / ".cache" / "lemo")) / "kafka" / "libs"


def _mesh(profile: str, app_env: dict[str, str], catalog: bool) -> list[App]:
    started: list[App] = []
    try:
        for app_id, module in (("profiles", "apps.profiles.main"), ("events", "apps.events.main")) + (
            (("catalog", "apps.catalog.main"),) if catalog else ()
        ):
            started.append(App(unique(app_id), uvicorn(module), profile=profile, env=app_env).start())
    except BaseException:
        for app in started:
            app.stop()
        raise
    return started


@pytest.fixture(scope="module")
def ingest_database(database_name: str) -> Iterator[str]:
    name = f"{database_name}_ingest"
    yield name
    client: MongoClient[dict[str, Any]]
    with MongoClient(MONGODB_URI) as client:
        client.drop_database(name)


@pytest.fixture(scope="module")
def app_env(app_env: dict[str, str], ingest_database: str) -> dict[str, str]:
    """The apps here get a database of their own: they open one ingest subscription per tenant they find, and the
    session's database holds every other module's tenants (some hundreds by the time this module runs)."""
    return {**app_env, "LEMO_MONGODB_DATABASE": ingest_database, "INGEST_ENABLED": "true"}


@pytest.fixture(scope="module")
def redis_mesh(app_env: dict[str, str]) -> Iterator[dict[str, App]]:
    apps = _mesh("redis", {**app_env, "INGEST_DISCOVER_EVERY_S": "1"}, catalog=True)
    mesh = {a.app_id.rsplit("-", 1)[0]: a for a in apps}
    env = {
        **app_env,
        "LEMO_ADMIN_KEY": ADMIN_KEY,
        **{f"GATEWAY_{n.upper()}_APP": mesh[n].app_id for n in ("catalog", "profiles", "events")},
    }
    try:
        mesh["gateway"] = App(unique("gateway"), uvicorn("apps.gateway.main"), env=env).start()
        yield mesh
    finally:
        for app in mesh.values():
            app.stop()


class Tenant:
    """A tenant made through the admin API, with its key for GET /v1/ingest/errors."""

    def __init__(self, gateway: App) -> None:
        self.id = f"t{uuid.uuid4().hex[:10]}"
        self._base = f"http://127.0.0.1:{gateway.app_port}"
        resp = httpx.post(
            f"{self._base}/v1/admin/tenants",
            json={"tenant_id": self.id},
            headers={"X-Admin-Key": ADMIN_KEY},
            timeout=10,
        )
        assert resp.status_code == 201, resp.text
        self.key = resp.json()["api_key"]

    def ingest_errors(self) -> dict[str, Any]:
        resp = httpx.get(f"{self._base}/v1/ingest/errors", headers={"X-API-Key": self.key}, timeout=10)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        assert body["tenant_id"] == self.id
        return body


@pytest.fixture
def mongo(ingest_database: str) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(MONGODB_URI) as client:
        yield client[ingest_database]


def _create_tenant(mongo: Any) -> str:
    """A tenant record written straight to the store, as the admin API writes it (the Kafka mesh has no gateway)."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    mongo["tenants"].insert_one({"_id": tenant, "tenant_id": tenant, "name": "", "created_at": time.time()})
    return tenant


def _publisher(profile: str, scoped_to: str | None = None) -> App:
    """The tenant's own sidecar: no API token (the Dapr CLI sends none), optionally scoped to one tenant's topics."""
    app_id = unique("publisher")
    overrides = None
    if scoped_to is not None:
        component = (ROOT / "components" / f"pubsub-{profile}" / "pubsub.yaml").read_text()
        topics = ",".join(ingest_topic(scoped_to, kind) for kind in IngestKind)
        component += f'    - name: publishingScopes\n      value: "{app_id}={topics}"\n'
        overrides = {"pubsub.yaml": component}
    return App(app_id, None, profile=profile, dapr_api_token="", component_overrides=overrides).start()


def _dapr_publish(
    publisher: App, topic: str, data: dict[str, Any], raw: bool = False
) -> subprocess.CompletedProcess[str]:
    cmd = [str(DAPR_CLI), "publish", "--publish-app-id", publisher.app_id, "--pubsub", PUBSUB, "--topic", topic]
    cmd += ["--data", json.dumps(data)]
    if raw:
        cmd += ["--metadata", json.dumps({"rawPayload": "true"})]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def _sdk_publish(publisher: App, topic: str, bodies: list[Any]) -> dict[str, Any]:
    env = {**os.environ, "DAPR_GRPC_PORT": str(publisher.grpc_port), "DAPR_HTTP_PORT": str(publisher.http_port)}
    env.pop("DAPR_API_TOKEN", None)
    lines = "\n".join(json.dumps(b) for b in bodies)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration.publisher_app", PUBSUB, topic],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def _archived(mongo: Any, tenant: str) -> list[str]:
    return sorted(d["event_id"] for d in mongo["events"].find({"tenant_id": tenant}, {"event_id": 1}))


def _realtime(profiles: App, tenant: str, user: str) -> dict[str, Any]:
    url = f"{profiles.sidecar}/v1.0/invoke/{profiles.app_id}/method/users/{tenant}/{user}/realtime"
    resp = httpx.get(url, headers=profiles.headers, timeout=10)
    return resp.json() if resp.status_code == 200 else {}  # type: ignore[no-any-return]


def _ingest_errors(events: App, tenant: str) -> dict[str, Any]:
    url = f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/ingest/{tenant}/errors"
    resp = httpx.get(url, headers=events.headers, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _event(event_id: str, user: str, item: str = "i1", kind: str = "view") -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user, "item_id": item, "type": kind}


def _views(profiles: App, tenant: str, users: list[str]) -> dict[str, int]:
    return {u: _realtime(profiles, tenant, u).get("type_counts", {}).get("view", 0) for u in users}


def test_dapr_cli_and_sdk_publishers_reach_actors_and_archive_exactly_once(
    redis_mesh: dict[str, App], mongo: Any
) -> None:
    profiles = redis_mesh["profiles"]
    owner = Tenant(redis_mesh["gateway"])  # after the apps started: subscribed without a restart
    tenant = owner.id
    topic = ingest_topic(tenant, IngestKind.EVENTS)
    publisher = _publisher("redis")
    try:
        # The Dapr CLI: two CloudEvents, one raw JSON message, and a resend of the first (same event_id).
        for data, raw in (
            (_event("cli-1", "u0"), False),
            (_event("cli-2", "u1"), False),
            (_event("cli-3", "u2"), True),
            (_event("cli-1", "u0"), False),
        ):
            done = _dapr_publish(publisher, topic, data, raw)
            assert done.returncode == 0, done.stdout + done.stderr
        # The SDK: one publish_event, then a bulk publish_events with 30 events (one a resend) and 3 bad ones.
        sdk = [_event(f"sdk-{i}", f"u{i % 5}") for i in range(30)] + [_event("sdk-0", "u0")]
        bad = [
            {**_event("bad-1", "u0"), "type": "teleport"},
            {**_event("bad-2", "u0"), "tenant_id": "someone-else"},
            {"user_id": "u0"},
        ]
        answer = _sdk_publish(publisher, topic, sdk + bad)
        assert answer == {"published": 34, "failed": [], "error": None}
        # Not JSON at all, as raw bytes.
        resp = httpx.post(
            f"{publisher.sidecar}/v1.0/publish/{PUBSUB}/{topic}",
            params={"metadata.rawPayload": "true"},
            content=b"this is not json",
            headers={"content-type": "text/plain"},
            timeout=10,
        )
        assert resp.status_code == 204, resp.text
    finally:
        publisher.stop()

    expected = sorted(["cli-1", "cli-2", "cli-3"] + [f"sdk-{i}" for i in range(30)])
    assert _wait_for(lambda: _archived(mongo, tenant), lambda got: got == expected) == expected
    users = [f"u{i}" for i in range(5)]
    want = {"u0": 1 + 6, "u1": 1 + 6, "u2": 1 + 6, "u3": 6, "u4": 6}
    assert _wait_for(lambda: _views(profiles, tenant, users), lambda got: got == want) == want
    time.sleep(2)  # a duplicate applied late would show now
    assert _archived(mongo, tenant) == expected
    assert _views(profiles, tenant, users) == want

    report = _wait_for(owner.ingest_errors, lambda r: len(r["errors"]) >= 4 and r["counts"]["events"]["accepted"])
    codes = sorted(e["error"]["code"] for e in report["errors"])
    assert codes == ["invalid_event", "invalid_event", "invalid_json", "tenant_mismatch"]
    teleport = next(e for e in report["errors"] if "teleport" in e["excerpt"])
    assert teleport["error"]["errors"][0]["loc"] == ["type"]
    assert report["counts"]["events"] == {"accepted": 35, "rejected": 4}  # resends are accepted, then deduped


def test_a_publisher_scoped_to_one_tenant_cannot_get_events_into_another(
    redis_mesh: dict[str, App], mongo: Any
) -> None:
    a, b = Tenant(redis_mesh["gateway"]), Tenant(redis_mesh["gateway"])
    tenant_a, tenant_b = a.id, b.id
    publisher = _publisher("redis", scoped_to=tenant_a)
    try:
        into_b = ingest_topic(tenant_b, IngestKind.EVENTS)
        refused = _dapr_publish(publisher, into_b, _event("b-1", "u1"))
        assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
        answer = _sdk_publish(publisher, into_b, [_event("b-2", "u1"), _event("b-3", "u1")])
        assert answer["published"] == 0 and answer["error"]["code"] == "PERMISSION_DENIED", answer
        # Nor by naming B in the body of a message on A's own topic.
        into_a = ingest_topic(tenant_a, IngestKind.EVENTS)
        done = _dapr_publish(publisher, into_a, {**_event("b-4", "u1"), "tenant_id": tenant_b})
        assert done.returncode == 0, done.stdout + done.stderr
        done = _dapr_publish(publisher, into_a, _event("a-1", "u1"))
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        publisher.stop()
    assert _wait_for(lambda: _archived(mongo, tenant_a), lambda got: got == ["a-1"]) == ["a-1"]
    report = _wait_for(a.ingest_errors, lambda r: len(r["errors"]) >= 1)
    assert [e["error"]["code"] for e in report["errors"]] == ["tenant_mismatch"]
    assert _archived(mongo, tenant_b) == []
    assert b.ingest_errors()["counts"]["events"] == {"accepted": 0, "rejected": 0}  # and B's key sees only B's
    assert b.ingest_errors()["errors"] == []


def test_item_changes_from_the_sdk_reach_the_catalog(redis_mesh: dict[str, App], mongo: Any) -> None:
    owner = Tenant(redis_mesh["gateway"])
    tenant = owner.id
    publisher = _publisher("redis")
    topic = ingest_topic(tenant, IngestKind.ITEMS)

    def items() -> dict[str, str]:
        return {d["item_id"]: d.get("title", "") for d in mongo["items"].find({"tenant_id": tenant})}

    try:
        changes = [
            {"item_id": "i1", "title": "First", "tags": ["a"]},
            {"op": "upsert", "item": {"item_id": "i2", "title": "Second"}},
            {"item_id": "i3", "title": "Gone soon"},
            {"item_id": "i4", "title": "x" * 2000},
            {"op": "rename", "item_id": "i1"},
        ]
        assert _sdk_publish(publisher, topic, changes)["published"] == 5
        first = {"i1": "First", "i2": "Second", "i3": "Gone soon"}
        assert _wait_for(items, lambda got: got == first) == first
        # Redis streams deliver a stream's messages concurrently: an item's delete goes after its upsert was taken
        # (docs/ingest.md, "Order").
        assert _sdk_publish(publisher, topic, [{"op": "delete", "item_id": "i3"}])["published"] == 1
    finally:
        publisher.stop()

    want = {"i1": "First", "i2": "Second"}
    assert _wait_for(items, lambda got: got == want) == want
    report = _wait_for(owner.ingest_errors, lambda r: len(r["errors"]) >= 2 and r["counts"]["items"]["accepted"])
    assert sorted(e["error"]["code"] for e in report["errors"]) == ["invalid_item", "invalid_item"]
    assert all(e["kind"] == "items" for e in report["errors"])
    assert report["counts"]["items"] == {"accepted": 4, "rejected": 2}


@pytest.fixture(scope="module")
def kafka_mesh(app_env: dict[str, str]) -> Iterator[dict[str, App]]:
    if not port_open(KAFKA_PORT):
        pytest.fail("Kafka is not running on 127.0.0.1:19092; `make test` starts it (scripts/infra.sh up kafka)")
    apps = _mesh("kafka", {**app_env, "INGEST_DISCOVER_EVERY_S": "1"}, catalog=False)
    yield {a.app_id.rsplit("-", 1)[0]: a for a in apps}
    for app in apps:
        app.stop()


def test_kafka_console_producer_reaches_actors_and_archive_exactly_once(kafka_mesh: dict[str, App], mongo: Any) -> None:
    events, profiles = kafka_mesh["events"], kafka_mesh["profiles"]
    tenant = _create_tenant(mongo)
    lines = [json.dumps(_event(f"k-{i}", f"u{i % 4}")) for i in range(40)]
    lines += [json.dumps(_event("k-0", "u0")), "not json", json.dumps({**_event("k-x", "u0"), "tenant_id": "other"})]
    producer = subprocess.run(
        [
            "java",
            "-cp",
            f"{KAFKA_LIBS}/*",
            "kafka.tools.ConsoleProducer",
            "--bootstrap-server",
            f"127.0.0.1:{KAFKA_PORT}",
            "--topic",
            ingest_topic(tenant, IngestKind.EVENTS),
        ],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert producer.returncode == 0, producer.stderr[-2000:]

    expected = sorted(f"k-{i}" for i in range(40))
    assert _wait_for(lambda: _archived(mongo, tenant), lambda got: got == expected, 120) == expected
    users = [f"u{i}" for i in range(4)]
    want = dict.fromkeys(users, 10)
    assert _wait_for(lambda: _views(profiles, tenant, users), lambda got: got == want) == want
    report = _wait_for(
        lambda: _ingest_errors(events, tenant), lambda r: len(r["errors"]) >= 2 and r["counts"]["events"]["accepted"]
    )
    assert sorted(e["error"]["code"] for e in report["errors"]) == ["invalid_json", "tenant_mismatch"]
    assert report["counts"]["events"] == {"accepted": 41, "rejected": 2}
