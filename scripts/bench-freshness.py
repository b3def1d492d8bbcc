"""Event -> realtime-profile freshness while the mesh ingests a steady load, against a running `make up`.

A background thread sends click events of `--users` users of a fresh tenant at `--rate` events/s (batches every
100 ms through POST /v1/events/batch); meanwhile a probe sends one view of a new item for its own user every
`--probe-every-s` and times how long until GET /v1/users/{user}/realtime shows it first. Prints the probes'
p50/p95/p99, the load actually sent, and the CPU each process spent per event (from /proc).

    LEMO_ADMIN_KEY=$(cat .state/admin-key) .venv/bin/python scripts/bench-freshness.py --rate 500 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid

import httpx

from lemo_cli.bench_recommend import cpu_ms_per_request, mesh_cpu_seconds
from lemo_client import LemoClient


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def load(gateway: str, key: str, rate: float, users: int, stop: threading.Event, sent: list[int]) -> None:
    """`rate` events/s in batches every 100 ms until `stop`; counts what it sent into `sent[0]`."""
    per_tick = max(1, round(rate / 10))
    n, started = 0, time.monotonic()
    with LemoClient(gateway, api_key=key) as client:
        while not stop.is_set():
            batch = [
                {"user_id": f"u{(n + i) % users}", "item_id": f"i{(n + i) % 997}", "type": "click"}
                for i in range(per_tick)
            ]
            client.track_batch(batch)
            n += per_tick
            sent[0] = n
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--rate", type=float, default=500.0, help="background events per second")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--probe-every-s", type=float, default=0.25)
    args = parser.parse_args()
    with LemoClient(args.gateway, admin_key=os.environ["LEMO_ADMIN_KEY"]) as admin:
        key = admin.ensure_tenant(f"fresh{uuid.uuid4().hex[:8]}")
    stop, sent = threading.Event(), [0]
    sender = threading.Thread(target=load, args=(args.gateway, key, args.rate, args.users, stop, sent), daemon=True)
    latencies: list[float] = []
    headers = {"X-API-Key": key}
    with LemoClient(args.gateway, api_key=key) as client, httpx.Client(base_url=args.gateway, timeout=30) as http:
        sender.start()
        time.sleep(3)  # the load is flowing before the first probe
        before, started = mesh_cpu_seconds(), time.monotonic()
        sent_before = sent[0]
        n = 0
        while time.monotonic() - started < args.seconds:
            user, item = f"probe{n % 50}", f"p{n}"
            sent_at = time.monotonic()
            client.track_batch([{"user_id": user, "item_id": item, "type": "view"}])
            while True:
                recent = http.get(f"/v1/users/{user}/realtime", headers=headers).json().get("recent_items", [])
                if recent and recent[0] == item:
                    break
                if time.monotonic() - sent_at > 30:
                    raise TimeoutError("an event did not reach the realtime profile in 30 s")
                time.sleep(0.005)
            latencies.append((time.monotonic() - sent_at) * 1000)
            n += 1
            time.sleep(max(0.0, args.probe_every_s - (time.monotonic() - sent_at)))
        seconds = time.monotonic() - started
        events = sent[0] - sent_before
        cpu = cpu_ms_per_request(before, mesh_cpu_seconds(), events)
        stop.set()
        sender.join(30)
    print(
        json.dumps(
            {
                "background_events_per_s": round(events / seconds),
                "probes": len(latencies),
                "freshness_ms": {
                    "p50": round(statistics.median(latencies), 1),
                    "p95": round(_percentile(latencies, 0.95), 1),
                    "p99": round(_percentile(latencies, 0.99), 1),
                },
                "cpu_ms_per_event": {"total": round(sum(cpu.values()), 2), **cpu},
            }
        )
    )


if __name__ == "__main__":
    main()
