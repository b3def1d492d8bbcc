"""Fault tests through real sidecars (docs/faults.md): a Kafka broker restart in the middle of ingest loses no
acknowledged event, and a redelivery of 10,000 already-digested events changes nothing. Requests generated from the
gateway's OpenAPI document, 5xx included, are tests/integration/test_openapi_contract.py's (docs/api.md)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from apps.shared.settings import EVENTS_TOPIC, PUBSUB
from tests.integration import mesh
from tests.integration.conftest import MONGODB_URI, unique
from tests.integration.mesh import DAPRD, ROOT, STATE, App, free_port, port_open, uvicorn

KAFKA_PORT = int(os.environ.get("LEMO_KAFKA_PORT", "19092"))
REDIS_PORT = int(os.environ.get("LEMO_REDIS_PORT", "6380"))
TYPES = ("view", "click", "like")


@pytest.fixture
def own_placement(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A placement service of this test's own, for the sidecars it starts. Dapr keeps actor state under the hosting
    app's id, and every test names its apps uniquely: with one shared placement, a profiles app of another test
    running at the same time (another engineer's, or a leftover) would host some users' actors under its own id,
    and those users would read as empty. Counting events per user needs the actors to stay with this test."""
    port, raft, healthz, metrics = free_port(), free_port(), free_port(), free_port()
    log = STATE / "logs" / "tests" / f"placement-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        placement = subprocess.Popen(
            [
                str(DAPRD.parent / "placement"),
                *("--port", str(port), "--listen-address", "127.0.0.1"),
                *("--initial-cluster", f"dapr-placement-0=127.0.0.1:{raft}"),
                *("--healthz-port", str(healthz), "--healthz-listen-address", "127.0.0.1"),
                *("--metrics-port", str(metrics), "--metrics-listen-address", "127.0.0.1"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert _wait_until(lambda: port_open(port), 30, every_s=0.2), log.read_text()
        monkeypatch.setattr(mesh, "PLACEMENT", f"127.0.0.1:{port}")
        yield f"127.0.0.1:{port}"
    finally:
        placement.terminate()
        placement.wait(15)


@pytest.fixture
def ingest(request: pytest.FixtureRequest, app_env: dict[str, str], own_placement: str) -> Iterator[tuple[App, App]]:
    """The write path on one pub/sub profile (the test's `profile` parameter): the events app (intake, archive
    consumer) and the profiles app (per-user actors)."""
    profile = request.param
    profiles = App(unique("profiles"), uvicorn("apps.profiles.main"), profile=profile, env=app_env).start()
    try:
        # The archive consumer's bulk wait at 50 ms, as the profiles consumer's: on Redis streams, whose component
        # hands Dapr at most 10 messages at a time (`concurrency`), the default 200 ms caps the archive at ~50
        # events/s (docs/faults.md), which would make the 2 x 10,000 events below take 7 minutes.
        events_env = {**app_env, "EVENTS_ARCHIVE_BULK_MAX_AWAIT_MS": "50"}
        events = App(unique("events"), uvicorn("apps.events.main"), profile=profile, env=events_env).start()
    except BaseException:
        profiles.stop()
        raise
    yield events, profiles
    events.stop()
    profiles.stop()


def _event(tenant: str, user: int, n: int) -> dict[str, Any]:
    return {
        "event_id": f"{tenant}-u{user}-e{n}",
        "tenant_id": tenant,
        "user_id": f"u{user}",
        "item_id": f"i{(user * 7 + n) % 97}",
        "type": TYPES[n % len(TYPES)],
    }


def _send_batch(events: App, batch: list[dict[str, Any]]) -> dict[str, str]:
    """Posts a batch to the events app; {event_id: "accepted" | "rejected"}. A call that fails as a whole (or
    times out) acknowledges nothing: every event in it counts as rejected."""
    url = f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/events/_batch"
    try:
        resp = httpx.post(url, json={"events": batch}, headers=events.headers, timeout=30)
    except httpx.HTTPError:
        return {e["event_id"]: "rejected" for e in batch}
    if resp.status_code != 200:
        return {e["event_id"]: "rejected" for e in batch}
    return {r["event_id"]: r["status"] for r in resp.json()["results"]}


def _type_counts(profiles: App, tenant: str, users: list[str]) -> dict[str, dict[str, int]]:
    """Each user's realtime profile from their actor, through the profiles app's sidecar."""
    return {u: p.get("type_counts", {}) for u, p in _profiles(profiles, tenant, users).items()}


def _profiles(profiles: App, tenant: str, users: list[str]) -> dict[str, dict[str, Any]]:
    with httpx.Client(headers=profiles.headers, timeout=30) as client:

        def one(user: str) -> dict[str, Any]:
            url = f"{profiles.sidecar}/v1.0/invoke/{profiles.app_id}/method/users/{tenant}/{user}/realtime"
            resp = client.get(url)
            return resp.json() if resp.status_code == 200 else {}  # type: ignore[no-any-return]

        with ThreadPoolExecutor(8) as pool:
            return dict(zip(users, pool.map(one, users), strict=True))


def _archived_ids(database_name: str, tenant: str) -> set[str]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(MONGODB_URI) as client:
        found: Any = client[database_name]["events"].find({"tenant_id": tenant}, {"event_id": 1, "_id": 0})
        return {str(d["event_id"]) for d in found}


def _wait_until(done: Callable[[], bool], timeout_s: float, every_s: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)
    return True


def _restart_kafka(seconds_down: float) -> subprocess.CompletedProcess[str]:
    """scripts/infra.sh restart-kafka: SIGTERM through the pid file, stay down, start it as `make up` does."""
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "infra.sh"), "restart-kafka", str(seconds_down)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.timeout(900)
@pytest.mark.parametrize("ingest", ["kafka"], indirect=True)
def test_kafka_broker_restart_loses_no_acknowledged_event(
    ingest: tuple[App, App], tenant: str, database_name: str
) -> None:
    """1,500 events (150 users x 10) go to the events app in batches of 30, a steady stream; after a third of them
    the broker is stopped (SIGTERM), kept down 5 s and started again while the stream goes on. Every event the
    events app acknowledged must reach its user's actor and the archive; an event it rejected (503 / "rejected"
    while the broker is away) may be lost or may still arrive. The client then resends its rejected events with
    the same event_ids (what the 503 tells it to do), and every user must end with exactly its 10 events: nothing
    lost, nothing counted twice (Kafka redelivers what was consumed but not committed before the restart)."""
    if not port_open(KAFKA_PORT):
        pytest.fail(f"Kafka is not running on 127.0.0.1:{KAFKA_PORT}; `make test` starts it")
    events, profiles = ingest
    users, per_user, batch_size = 150, 10, 30
    stream = [_event(tenant, u, n) for n in range(per_user) for u in range(users)]  # batches mix users
    batches = [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]
    outcome: dict[str, str] = {}
    phase: dict[str, str] = {}

    def send(batch: list[dict[str, Any]], label: str) -> None:
        for event_id, status in _send_batch(events, batch).items():
            outcome[event_id] = status
            phase[event_id] = label

    for batch in batches[:15]:
        send(batch, "before")
        time.sleep(0.3)
    restart_result: list[subprocess.CompletedProcess[str]] = []
    restart = threading.Thread(target=lambda: restart_result.append(_restart_kafka(5)))
    restart.start()
    rest = batches[15:]
    while restart.is_alive() and len(rest) > 10:
        send(rest.pop(0), "restart, broker " + ("up" if port_open(KAFKA_PORT) else "down"))
        time.sleep(0.5)
    restart.join()
    assert restart_result and restart_result[0].returncode == 0, restart_result[0].stderr if restart_result else ""
    for batch in rest:
        send(batch, "after")
        time.sleep(0.3)

    acked = [e for e in stream if outcome[e["event_id"]] == "accepted"]
    rejected = [e for e in stream if outcome[e["event_id"]] != "accepted"]
    by_phase = Counter((phase[e["event_id"]], outcome[e["event_id"]]) for e in stream)
    print(
        f"\nbroker restart: sent {len(stream)}, acknowledged {len(acked)}, rejected {len(rejected)}: {dict(by_phase)}"
    )
    assert acked, "the events app acknowledged nothing"

    # Every acknowledged event reaches the archive and its user's actor.
    acked_ids = {e["event_id"] for e in acked}
    expected: dict[str, Counter[str]] = {f"u{u}": Counter() for u in range(users)}
    for e in acked:
        expected[e["user_id"]][e["type"]] += 1
    all_users = sorted(expected)

    def acked_digested() -> bool:
        if not acked_ids <= _archived_ids(database_name, tenant):
            return False
        counts = _type_counts(profiles, tenant, all_users)
        return all(Counter(counts[u]) >= expected[u] for u in all_users)

    if not _wait_until(acked_digested, 300, every_s=2):
        counts = _type_counts(profiles, tenant, all_users)
        short = {u: (counts[u], dict(expected[u])) for u in all_users if not Counter(counts[u]) >= expected[u]}
        missing = acked_ids - _archived_ids(database_name, tenant)
        pytest.fail(
            f"after 300 s, {len(missing)} acknowledged events not archived (e.g. {sorted(missing)[:5]}), "
            f"{len(short)} users short in their actors (e.g. {list(short.items())[:5]})"
        )
    rejected_ids = {e["event_id"] for e in rejected}
    arrived_anyway = len(rejected_ids & _archived_ids(database_name, tenant))
    print(f"broker restart: {arrived_anyway} of the {len(rejected)} rejected events were delivered all the same")

    # The client retries what was rejected, with the same event ids, until the events app takes it.
    deadline = time.monotonic() + 120
    while rejected and time.monotonic() < deadline:
        retry, rejected = rejected[:batch_size], rejected[batch_size:]
        results = _send_batch(events, retry)
        rejected += [e for e in retry if results[e["event_id"]] != "accepted"]
    assert not rejected, f"{len(rejected)} events still rejected 120 s after the broker came back"

    want = {f"u{u}": dict(Counter(TYPES[n % len(TYPES)] for n in range(per_user))) for u in range(users)}
    everything = {e["event_id"] for e in stream}

    def all_digested() -> bool:
        return _archived_ids(database_name, tenant) == everything and _type_counts(profiles, tenant, all_users) == want

    if not _wait_until(all_digested, 300, every_s=2):
        counts = _type_counts(profiles, tenant, all_users)
        wrong = {u: counts[u] for u in all_users if counts[u] != want[u]}
        missing = everything - _archived_ids(database_name, tenant)
        pytest.fail(
            f"after the resend, {len(missing)} events not archived, {len(wrong)} users without exactly their "
            f"10 events, e.g. {list(wrong.items())[:5]} (want {want['u0']})"
        )
    time.sleep(5)  # a late redelivery must not count twice either
    assert _type_counts(profiles, tenant, all_users) == want
    assert _archived_ids(database_name, tenant) == everything


def _metric(app: App, name: str) -> dict[str, float]:
    """A counter of the app's own /metrics, by its `outcome` label."""
    text = httpx.get(f"http://127.0.0.1:{app.app_port}/metrics", timeout=10).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1 :].split("} ")
            values[labels.split('outcome="')[1].split('"')[0]] = float(value)
    return values


def _redis(*args: str) -> Any:
    """One command to the stores' Redis (RESP, enough of it for the stream commands below)."""
    with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=30) as conn:
        request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        conn.sendall(request.encode())
        reader = conn.makefile("rb")

        def read() -> Any:
            line = reader.readline()[:-2]
            kind, rest = line[:1], line[1:]
            if kind == b"-":
                raise RuntimeError(rest.decode())
            if kind == b":":
                return int(rest)
            if kind == b"$":
                return None if int(rest) < 0 else reader.read(int(rest) + 2)[:-2]
            if kind == b"*":
                return None if int(rest) < 0 else [read() for _ in range(int(rest))]
            return rest  # "+" simple string

        return read()


def _stream_groups() -> dict[str, dict[str, Any]]:
    """XINFO GROUPS of the events stream (Redis profile): consumer group (== app id) -> its fields."""
    groups: dict[str, dict[str, Any]] = {}
    for fields in _redis("XINFO", "GROUPS", EVENTS_TOPIC):
        info = {k.decode(): v for k, v in zip(fields[::2], fields[1::2], strict=True)}
        groups[info["name"].decode()] = info
    return groups


def _drop_from_stream(after_id: str, marker: str) -> int:
    """Deletes the stream entries after `after_id` that carry `marker` (this test's tenant id). A consumer group
    created later reads the stream from its start: the tests after this one need not digest 20,000 events."""
    dropped, start = 0, after_id
    while page := _redis("XRANGE", EVENTS_TOPIC, f"({start}", "+", "COUNT", "1000"):
        ids = [entry_id.decode() for entry_id, fields in page if any(marker.encode() in f for f in fields)]
        if ids:
            dropped += _redis("XDEL", EVENTS_TOPIC, *ids)
        start = page[-1][0].decode()
    return dropped


def _drained(*apps: App) -> bool:
    """Every message of the stream delivered to these apps' consumer groups and acknowledged by them."""
    groups = _stream_groups()
    return all(groups.get(a.app_id, {}).get("lag") == 0 and groups.get(a.app_id, {}).get("pending") == 0 for a in apps)


def _stable(profile: dict[str, Any]) -> dict[str, Any]:
    # window_1h and interests are computed at read time (the window slides, interests decay): they change with
    # the clock, not with redelivery, so only the stored counters and items are compared.
    return {k: profile.get(k) for k in ("type_counts", "recent_items", "last_active")}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("ingest", ["redis"], indirect=True)
def test_redelivered_events_change_nothing(ingest: tuple[App, App], tenant: str, database_name: str) -> None:
    """10,000 events (1,000 users x 10) are published through the events app and digested; then the SAME events
    (same event_ids) are bulk-published straight to the topic again, as a broker redelivery or a consumer-group
    reset would bring them. Afterwards every user's realtime counters and the archive are exactly as before.

    Bound: this redelivery goes onto the topic without the events app's acceptance stamp, so the actor recognises
    it by the digests of its last 12-24 ids alone (lemo/realtime/dedupe.py); 10 per user stays inside them. A
    stamped redelivery has no such bound (tests/integration/test_actor.py), nor does the archive (tenant +
    event_id).

    Each user's 10 events are published one after another (a backfill, or a replayed backlog), so a bulk delivery
    holds several events per user, one actor turn each; interleaved users would cost one actor call per event
    (docs/benchmarks.md). Measured ~150 events/s each way on 2 shared cores, ~66 s per pass; rates are printed."""
    last = _redis("XREVRANGE", EVENTS_TOPIC, "+", "-", "COUNT", "1")
    try:
        _redeliver(*ingest, tenant, database_name)
    finally:
        _drop_from_stream(last[0][0].decode() if last else "0-0", tenant)


def _redeliver(events: App, profiles: App, tenant: str, database_name: str) -> None:
    users, per_user = 1000, 10
    stream = [_event(tenant, u, n) for u in range(users) for n in range(per_user)]
    everything = {e["event_id"] for e in stream}
    all_users = [f"u{u}" for u in range(users)]

    started = time.monotonic()
    for i in range(0, len(stream), 1000):
        results = _send_batch(events, stream[i : i + 1000])
        assert set(results.values()) == {"accepted"}, results
    assert _wait_until(
        lambda: _drained(events, profiles) and len(_archived_ids(database_name, tenant)) == len(stream), 300
    ), f"first delivery not digested in 300 s: {_stream_groups()}\n{profiles.logs()}"
    first_s = time.monotonic() - started
    before = {u: _stable(p) for u, p in _profiles(profiles, tenant, all_users).items()}
    per_type = dict(Counter(TYPES[n % len(TYPES)] for n in range(per_user)))
    assert all(p["type_counts"] == per_type for p in before.values())
    applied = _metric(profiles, "lemo_actor_updates_total")

    # The redelivery: the same events, straight onto the topic through a sidecar's bulk publish.
    started = time.monotonic()
    for i in range(0, len(stream), 1000):
        entries = [
            {"entryId": str(n), "event": e, "contentType": "application/json"}
            for n, e in enumerate(stream[i : i + 1000])
        ]
        resp = httpx.post(
            f"{events.sidecar}/v1.0-alpha1/publish/bulk/{PUBSUB}/{EVENTS_TOPIC}",
            json=entries,
            headers=events.headers,
            timeout=60,
        )
        assert resp.status_code in (200, 204) and not (resp.content and resp.json().get("failedEntries")), resp.text

    def redelivery_digested() -> bool:
        seen = _metric(profiles, "lemo_actor_updates_total")
        handled = sum(seen.get(k, 0) - applied.get(k, 0) for k in ("applied", "duplicate"))
        return handled >= len(stream) and _drained(events, profiles)

    assert _wait_until(redelivery_digested, 300), f"redelivery not digested in 300 s: {_stream_groups()}"
    second_s = time.monotonic() - started
    after_metrics = _metric(profiles, "lemo_actor_updates_total")
    print(
        f"\nredelivery: {len(stream)} events digested in {first_s:.0f} s ({len(stream) / first_s:.0f}/s), "
        f"redelivered in {second_s:.0f} s ({len(stream) / second_s:.0f}/s); actor outcomes before {applied}, "
        f"after {after_metrics}"
    )
    assert after_metrics.get("applied", 0) == applied.get("applied", 0), "a redelivered event was applied again"
    after = {u: _stable(p) for u, p in _profiles(profiles, tenant, all_users).items()}
    assert after == before
    assert _archived_ids(database_name, tenant) == everything
    # The pre-aggregated counts behind /events/stats count each event once, redelivered or not.
    stats = httpx.get(
        f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/events/{tenant}/stats",
        params={"since": 0},
        headers=events.headers,
        timeout=30,
    ).json()
    assert stats["counts"] == {t: n * users for t, n in per_type.items()}
