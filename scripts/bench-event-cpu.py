"""CPU per ingested event, per mesh process, against a running `make up`.

Sends N click events of U users of a fresh tenant through POST /v1/events/batch, waits until they are in the actors
and the archive, and prints the CPU each process spent per event (from /proc; see lemo_cli/bench_recommend.py).
docs/scaling.md sizes the event path from these numbers. "Done" is read one of two ways: `--wait streams` (Redis
Streams profile) until every consumer group of the events stream has read and acknowledged everything;
`--wait counts` (any profile, Kafka too) until the profiles app's actor-update counter (its /metrics) has grown by
N and the tenant's event stats count N archived.

    LEMO_ADMIN_KEY=$(cat .state/admin-key) .venv/bin/python scripts/bench-event-cpu.py --events 5000 --users 500
    LEMO_ADMIN_KEY=... .venv/bin/python scripts/bench-event-cpu.py --events 20000 --users 2000 --zipf 1.1  # skewed
    LEMO_ADMIN_KEY=... .venv/bin/python scripts/bench-event-cpu.py --events 20000 --users 2000 --wait counts  # Kafka
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
import uuid
from typing import Any

import httpx
import numpy as np

from lemo_cli.bench_recommend import cpu_ms_per_request, mesh_cpu_seconds
from lemo_client import LemoClient

MESH_GROUPS = ("events", "profiles", "feeds")  # the mesh's consumers of the events topic (app ids)


def _redis_json(port: int, *command: str) -> Any:
    out = subprocess.run(["redis-cli", "-p", str(port), "--json", *command], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def backlog(port: int) -> int:
    """Entries the mesh's consumer groups have not yet read (1 when any is left) or read but not acknowledged. An
    entry is unread when the stream holds one past the group's last delivery (not when the newest id differs: a
    stream trimmed under a group, as the integration tests trim it, keeps its newest id while holding nothing)."""
    groups = [g for g in _redis_json(port, "XINFO", "GROUPS", "events") if g["name"] in MESH_GROUPS]
    unread = [
        bool(_redis_json(port, "XRANGE", "events", f"({g['last-delivered-id']}", "+", "COUNT", "1")) for g in groups
    ]
    return sum(int(g["pending"]) for g in groups) + sum(unread)


def actor_updates(profiles_url: str) -> float:
    """Events the profiles app's actors took so far, new or duplicate (its Prometheus counter)."""
    text = httpx.get(f"{profiles_url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("lemo_actor_updates_total{") and 'outcome="retry"' not in line
    )


def skewed_users(events: int, users: int, exponent: float, seed: int) -> list[int]:
    """Which user sends each event, as real traffic looks: a user's rank by activity follows Zipf's law with
    `exponent` (the first user most active), and each visit is a session of several events (1 + geometric, mean
    4) spread over a few seconds, overlapping other users' sessions. The events come out in time order."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, users + 1) ** exponent
    timeline: list[tuple[float, int]] = []
    span = events / 1000.0  # seconds of traffic at about 1,000 events/s: sessions overlap as they would
    while len(timeline) < events:
        user = int(rng.choice(users, p=weights / weights.sum()))
        start = float(rng.uniform(0, span))
        for k in range(int(rng.geometric(0.25))):
            timeline.append((start + k * float(rng.exponential(1.0)), user))
    timeline.sort()
    return [user for _, user in timeline[:events]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--redis-port", type=int, default=6380)
    parser.add_argument(
        "--zipf",
        type=float,
        default=0.0,
        help="skewed traffic: users drawn by Zipf's law with this exponent, in sessions",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--wait", choices=("streams", "counts"), default="streams", help="how to tell it is done")
    parser.add_argument("--profiles", default="http://127.0.0.1:8082", help="the profiles app (for --wait counts)")
    args = parser.parse_args()
    with LemoClient(args.gateway, admin_key=os.environ["LEMO_ADMIN_KEY"]) as admin:
        key = admin.ensure_tenant(f"cpu{uuid.uuid4().hex[:8]}")
    users = skewed_users(args.events, args.users, args.zipf, args.seed) if args.zipf else None
    events = [
        {
            "user_id": f"u{users[n] if users else n % args.users}",
            "item_id": f"i{n % 997}",
            "type": "click",
            "event_id": f"c{n}",
        }
        for n in range(args.events)
    ]
    streams = args.wait == "streams"
    with LemoClient(args.gateway, api_key=key) as client:
        while streams and backlog(args.redis_port):
            time.sleep(1)
        applied = 0.0 if streams else actor_updates(args.profiles)
        before, started = mesh_cpu_seconds(), time.monotonic()
        for offset in range(0, len(events), 1000):
            client.track_batch(events[offset : offset + 1000])
        if streams:
            while backlog(args.redis_port):
                time.sleep(0.2)
        else:
            while actor_updates(args.profiles) - applied < len(events):
                time.sleep(0.2)
            while client.event_stats(since=0)["total"] < len(events):
                time.sleep(0.2)
        seconds = time.monotonic() - started
    cpu = cpu_ms_per_request(before, mesh_cpu_seconds(), len(events))
    print(
        json.dumps(
            {
                "events": len(events),
                "users": args.users,
                "seconds": round(seconds, 1),
                "events_per_s": round(len(events) / seconds),
                "cpu_ms_per_event": {"total": round(sum(cpu.values()), 2), **cpu},
            }
        )
    )


if __name__ == "__main__":
    main()
