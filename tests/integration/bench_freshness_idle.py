"""Freshness of an idle event path, on Redis Streams and on Kafka: how long one event takes from the events app's
acceptance to the user's realtime profile when nothing else is queued (not collected by the suite: run it by name,
docs/benchmarks.md, the Kafka profile's section):

    flock /tmp/lemo-it.lock .venv/bin/pytest -q -s -p no:cacheprovider tests/integration/bench_freshness_idle.py

Events app + profiles app with their sidecars on each pub/sub profile (tests/integration/test_pubsub.py's mesh).
A warm-up event for one user first (on a Kafka store kept across runs it waits behind the topic's history, which a
new consumer group reads from the oldest message: the mesh's app ids are new each run), then FRESH_BENCH_N events
(default 20), each for a new user, one at a time: the time until the profiles app's /realtime shows it, polled
every 10 ms. What it separates: the path's own latency from queueing under load (scripts/bench-freshness.py
measures the latter on `make up`).
"""

from __future__ import annotations

import os
import statistics
import time

import httpx

from tests.integration.mesh import App
from tests.integration.test_pubsub import _realtime, mesh  # noqa: F401 (the fixture, one per pub/sub profile)

N = int(os.environ.get("FRESH_BENCH_N", "20"))


def _send(events: App, tenant: str, user: str) -> None:
    resp = httpx.post(
        f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/events",
        json={"tenant_id": tenant, "user_id": user, "item_id": "i1", "type": "view"},
        headers=events.headers,
        timeout=10,
    )
    assert resp.status_code == 202, resp.text


def _seen_after(events: App, profiles: App, tenant: str, user: str, timeout_s: float = 60.0) -> float:
    started = time.monotonic()
    _send(events, tenant, user)
    while not _realtime(profiles, tenant, user).get("type_counts"):
        assert time.monotonic() - started < timeout_s, f"{user}'s event never reached the profile"
        time.sleep(0.01)
    return time.monotonic() - started


def test_idle_freshness(mesh: tuple[App, App], tenant: str) -> None:  # noqa: F811
    events, profiles = mesh
    # A new consumer group starts at the topic's oldest message (initialOffset: oldest, so nothing published before
    # the first subscription is lost): on a long-lived Kafka store the warm-up waits for the history to be read.
    first = _seen_after(events, profiles, tenant, "warm-up", timeout_s=600.0)
    seconds = sorted(_seen_after(events, profiles, tenant, f"u{n}") for n in range(N))
    print(
        f"\n{events.profile}: warm-up event {first:.1f} s; {N} events one at a time: "
        f"p50 {statistics.median(seconds) * 1000:.0f} ms, max {seconds[-1] * 1000:.0f} ms, "
        f"min {seconds[0] * 1000:.0f} ms"
    )
