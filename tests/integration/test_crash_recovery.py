"""A crash must not park the event stream (docs/faults.md): the profiles app killed with `kill -9` in the middle of
ingest is started again by the watchdog (scripts/watchdog.py, what `make up` runs), the sidecar retries the
deliveries it could not make (components/resiliency.yaml) instead of dead-lettering them, and every acknowledged
event ends in its actor and in the archive exactly once. What does reach the dead letter can be replayed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from apps.shared.settings import EVENTS_DEAD_LETTER_TOPIC, PUBSUB
from tests.integration import test_faults
from tests.integration.conftest import MONGODB_URI
from tests.integration.mesh import ROOT, App, port_open
from tests.integration.test_faults import (
    TYPES,
    _archived_ids,
    _event,
    _profiles,
    _redis,
    _send_batch,
    _type_counts,
    _wait_until,
)

# The write path's fixtures (the events and profiles apps on their own placement), shared with test_faults.py.
ingest = test_faults.ingest
own_placement = test_faults.own_placement


@pytest.fixture
def watchdog(ingest: tuple[App, App]) -> Iterator[Path]:
    """scripts/watchdog.py watching the profiles app of `ingest`, as `make up` watches the mesh's apps."""
    _, profiles = ingest
    state = Path(tempfile.mkdtemp(prefix="lemo-watchdog-"))
    log = (state / "watchdog.log").open("wb")
    watch_args = ["--state", str(state), "--interval", "0.5"]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "watchdog.py"), "run", "--app-id", profiles.app_id, *watch_args],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait_until(lambda: _watched(state, profiles.app_id) is not None, 30, every_s=0.5), _log(state)
        yield state
    finally:
        proc.send_signal(signal.SIGTERM)  # stops the app it started again, too
        proc.wait(30)
        log.close()


def _log(state: Path) -> str:
    return (state / "watchdog.log").read_text(errors="replace")[-3000:]


def _watched(state: Path, name: str) -> dict[str, Any] | None:
    """The watchdog's view of one process, once it has seen it up."""
    try:
        doc = json.loads((state / "watchdog" / "status.json").read_text())
    except (OSError, ValueError):
        return None
    found = [m for m in doc["members"] if m["name"] == name and m["pid"] is not None]
    return found[0] if found else None


def _dead_letters(database_name: str, tenant: str) -> int:
    client: MongoClient[dict[str, Any]]
    with MongoClient(MONGODB_URI) as client:
        return client[database_name]["dead_letters"].count_documents({"data.tenant_id": tenant})


def _dead_letter_stream_holds(tenant: str) -> int:
    """Entries of this tenant on the dead-letter stream itself (whether or not the profiles app stored them)."""
    entries = _redis("XRANGE", EVENTS_DEAD_LETTER_TOPIC, "-", "+") or []
    return sum(1 for _, fields in entries if any(tenant.encode() in f for f in fields))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("ingest", ["redis"], indirect=True)
def test_profiles_killed_during_ingest_comes_back_and_every_acknowledged_event_lands_once(
    ingest: tuple[App, App], watchdog: Path, tenant: str, database_name: str
) -> None:
    """5,000 events (500 users x 10) flow through the events app in batches of 250; 1.5 s in, the profiles app is
    killed with SIGKILL. The watchdog starts it again; meanwhile its sidecar pauses deliveries (the app fails its
    health check) and retries the ones that failed. Every acknowledged event must reach its user's actor exactly
    once and the archive exactly once, and nothing may be left in the dead letter."""
    events, profiles = ingest
    before_pid = _watched(watchdog, profiles.app_id)
    assert before_pid is not None
    users, per_user, batch_size = int(os.environ.get("LEMO_TEST_KILL_USERS", "500")), 10, 250
    stream = [_event(tenant, u, n) for n in range(per_user) for u in range(users)]  # batches mix users
    outcome: dict[str, str] = {}

    def send_all() -> None:
        for i in range(0, len(stream), batch_size):
            outcome.update(_send_batch(events, stream[i : i + batch_size]))
            time.sleep(0.1)

    sender = threading.Thread(target=send_all)
    started = time.monotonic()
    sender.start()
    time.sleep(1.5)
    os.kill(int(before_pid["pid"]), signal.SIGKILL)
    killed_at = time.monotonic() - started
    sender.join()

    def back() -> bool:
        now = _watched(watchdog, profiles.app_id)
        return now is not None and now["pid"] != before_pid["pid"] and port_open(profiles.app_port)

    assert _wait_until(back, 60, every_s=0.5), f"the profiles app was not started again:\n{_log(watchdog)}"
    back_at = time.monotonic() - started
    assert (_watched(watchdog, profiles.app_id) or {}).get("restarts") == 1

    acked = [e for e in stream if outcome.get(e["event_id"]) == "accepted"]
    assert len(acked) == len(stream), f"{len(stream) - len(acked)} events not acknowledged (the events app lives)"
    want: dict[str, dict[str, int]] = {
        f"u{u}": dict(Counter(TYPES[n % len(TYPES)] for n in range(per_user))) for u in range(users)
    }
    all_users = sorted(want)
    everything = {e["event_id"] for e in acked}

    def all_landed() -> bool:
        return _archived_ids(database_name, tenant) == everything and _type_counts(profiles, tenant, all_users) == want

    landed = _wait_until(all_landed, 300, every_s=3)
    counts = _type_counts(profiles, tenant, all_users)
    wrong = {u: counts[u] for u in all_users if counts[u] != want[u]}
    print(
        f"\nprofiles killed at {killed_at:.1f} s, back at {back_at:.1f} s; all {len(acked)} events in the actors and "
        f"the archive at {time.monotonic() - started:.1f} s"
    )
    assert landed, (
        f"{len(wrong)} users without exactly their {per_user} events (e.g. {list(wrong.items())[:3]}, want "
        f"{want['u0']}); {len(everything - _archived_ids(database_name, tenant))} events not archived; "
        f"dead letters: {_dead_letters(database_name, tenant)}"
    )
    time.sleep(5)  # late redeliveries must not count twice
    assert _type_counts(profiles, tenant, all_users) == want
    assert _dead_letters(database_name, tenant) == 0
    assert _dead_letter_stream_holds(tenant) == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("ingest", ["redis"], indirect=True)
def test_dead_letters_are_listed_and_replayed_into_the_actors_once(
    ingest: tuple[App, App], tenant: str, database_name: str
) -> None:
    """Events that reached the dead letter (published straight onto it here, as after a failure that outlasted every
    redelivery) are kept, listed per tenant, and replayed onto the events topic: they reach the actor and the archive
    once, and a second replay finds nothing left."""
    events, profiles = ingest
    # The user's actor has taken 30 newer events since these were first accepted: their acceptance stamps are below
    # its dedupe watermark, and a replay must not be mistaken for a redelivery.
    # Sent ten at a time, each ten taken before the next: one user's events of one bulk publish can reach the
    # stream out of order and be split across deliveries, and a straggler stamped below the floor the others
    # raised is taken as seen (the dedupe's stated limit, lemo/realtime/dedupe.py); this test is about replay.
    newer = [_event(tenant, 1, n) for n in range(100, 130)]

    for sent in (10, 20, 30):

        def all_taken(sent: int = sent) -> bool:
            return sum(_type_counts(profiles, tenant, ["u1"])["u1"].values()) == sent

        assert set(_send_batch(events, newer[sent - 10 : sent]).values()) == {"accepted"}
        assert _wait_until(all_taken, 60), _profiles(profiles, tenant, ["u1"])
    dead = [{**_event(tenant, 1, n), "accepted_at": 1.0 + n} for n in range(3)]
    entries = [{"entryId": str(n), "event": e, "contentType": "application/json"} for n, e in enumerate(dead)]
    resp = httpx.post(
        f"{events.sidecar}/v1.0-alpha1/publish/bulk/{PUBSUB}/{EVENTS_DEAD_LETTER_TOPIC}",
        json=entries,
        headers=events.headers,
        timeout=30,
    )
    assert resp.status_code in (200, 204), resp.text
    base = f"{profiles.sidecar}/v1.0/invoke/{profiles.app_id}/method/deadletters"
    with httpx.Client(headers=profiles.headers, timeout=30) as client:

        def listed() -> dict[str, Any]:
            return client.get(base, params={"tenant_id": tenant}).json()  # type: ignore[no-any-return]

        assert _wait_until(lambda: listed()["count"] == 3, 30), listed()
        assert {i["event_id"] for i in listed()["items"]} == {e["event_id"] for e in dead}
        assert client.get(base, params={"tenant_id": tenant + "x"}).json()["count"] == 0  # another tenant's view

        replayed = client.post(f"{base}/replay", params={"tenant_id": tenant}).json()
        assert (replayed["replayed"], replayed["left"], replayed["failed"]) == (3, 0, [])
        want = {"u1": dict(Counter(e["type"] for e in newer + dead))}
        assert _wait_until(lambda: _type_counts(profiles, tenant, ["u1"]) == want, 60), _type_counts(
            profiles, tenant, ["u1"]
        )
        everything = {e["event_id"] for e in newer + dead}
        assert _wait_until(lambda: _archived_ids(database_name, tenant) == everything, 60)
        assert client.post(f"{base}/replay", params={"tenant_id": tenant}).json()["replayed"] == 0
    time.sleep(3)
    assert _type_counts(profiles, tenant, ["u1"]) == want
