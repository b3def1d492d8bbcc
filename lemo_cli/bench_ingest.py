"""`lemo bench ingest`: the data plane's numbers, measured against a running mesh (`make up`).

`--via http` (the default) sends events through the gateway and measures all of the below; `--via dapr` and
`--via kafka` publish them straight onto the tenant's ingest topic (lemo_cli/bench_publish.py) and measure only the
events' throughput (published, archived, in the actors).

- events/s accepted by the gateway (batches of 1,000), written to the archive (the events app's own consumer),
  and digested into the per-user actors (end to end);
- event-accepted -> visible-in-realtime-features latency, p50/p95/p99 over single events;
- actor state bytes of a user after 200 events (read from the actor state store);
- catalog batch upsert items/s (NDJSON).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from lemo.ingest import IngestKind, ingest_topic
from lemo_cli import bench_publish
from lemo_client import LemoClient

# Sends a list of events (the bodies of POST /v1/events) onto an ingest topic.
Publish = Callable[[str, list[dict[str, Any]]], None]
DISCOVERY_S = 3.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _wait_for_total(http: httpx.Client, key: str, since: float, total: int, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        resp = http.get("/v1/events/stats", params={"since": since}, headers={"X-API-Key": key})
        # A busy events app may answer 503 (a large archive makes the count slow): ask again.
        if resp.status_code == 200 and resp.json().get("total", 0) >= total:
            return time.monotonic()
        time.sleep(0.25)
    raise TimeoutError(f"only part of {total} events reached the archive in {timeout_s}s")


def _wait_for_actors(http: httpx.Client, key: str, events: int, users: int, timeout_s: float) -> float:
    """When every event reached its user's actor, judged by a sample of users whose click counts must equal the
    events sent to them (the last events of the run go to every user alike)."""
    sample = [f"u{n}" for n in range(0, users, max(1, users // 20))]
    expected = {u: len(range(int(u[1:]), events, users)) for u in sample}
    deadline = time.monotonic() + timeout_s
    while sample and time.monotonic() < deadline:
        profile = http.get(f"/v1/users/{sample[-1]}/realtime", headers={"X-API-Key": key}).json()
        if profile.get("type_counts", {}).get("click", 0) >= expected[sample[-1]]:
            sample.pop()
        else:
            time.sleep(0.25)
    if sample:
        raise TimeoutError(f"events for {len(sample)} sampled users had not reached their actors in {timeout_s}s")
    return time.monotonic()


def bench_ingest(
    gateway: str, admin_key: str, events: int, users: int, redis_port: int, publish: Publish | None = None
) -> dict[str, Any]:
    """`publish`: None sends through the gateway (and measures the rest too); else a publisher (lemo_cli.bench_publish)
    given the tenant's ingest topic, and only the events' throughput is measured."""
    tenant = f"bench{uuid.uuid4().hex[:8]}"
    results: dict[str, Any] = {"tenant": tenant, "events": events, "users": users}
    with LemoClient(gateway, admin_key=admin_key) as client, httpx.Client(base_url=gateway, timeout=60) as http:
        key = client.ensure_tenant(tenant)
        if publish is None:
            items = [{"item_id": f"i{n}", "categories": [f"c{n % 20}"], "tags": [f"t{n % 50}"]} for n in range(10_000)]
            started = time.monotonic()
            client.upsert_items(items)
            results["catalog_batch_items_per_s"] = round(len(items) / (time.monotonic() - started))
        else:
            time.sleep(DISCOVERY_S)  # the ingest consumers subscribe to a new tenant's topics within this

        since = time.time() - 60
        batch = [
            {
                "user_id": f"u{n % users}",
                "item_id": f"i{(n * 7919) % 10_000}",
                "type": "click",
                "event_id": f"b{n}",
                "timestamp": time.time(),
            }
            for n in range(events)
        ]
        started = time.monotonic()
        if publish is None:
            for offset in range(0, events, 1000):
                client.track_batch(batch[offset : offset + 1000])
        else:
            publish(ingest_topic(tenant, IngestKind.EVENTS), batch)
        accepted_at = time.monotonic()
        results["published_events_per_s" if publish else "gateway_accept_events_per_s"] = round(
            events / (accepted_at - started)
        )
        archived = _wait_for_total(http, key, since, events, timeout_s=max(120.0, events / 50))
        results["archived_events_per_s"] = round(events / (archived - started))
        in_actors = _wait_for_actors(http, key, events, users, timeout_s=max(120.0, events / 20))
        results["end_to_end_events_per_s"] = round(events / (in_actors - started))
        if publish is not None:
            return results

        latencies = []
        for n in range(50):
            item = f"i{n}"
            sent = time.monotonic()
            client.track_batch([{"user_id": "fresh", "item_id": item, "type": "view"}])
            while True:
                profile = http.get("/v1/users/fresh/realtime", headers={"X-API-Key": key}).json()
                if profile["recent_items"] and profile["recent_items"][0] == item:
                    break
                if time.monotonic() - sent > 30:
                    raise TimeoutError("an event did not reach the realtime profile in 30 s")
                time.sleep(0.005)
            latencies.append((time.monotonic() - sent) * 1000)
        results["freshness_ms"] = {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(_percentile(latencies, 0.95), 1),
            "p99": round(_percentile(latencies, 0.99), 1),
        }

        heavy = [
            {
                "user_id": "heavy",
                "item_id": f"i{n * 13 % 10_000}",
                "type": "rate",
                "value": 1 + n % 5,
                "event_id": f"h{n}",
                "timestamp": time.time(),
            }
            for n in range(200)
        ]
        client.track_batch(heavy)
        _wait_for_total(http, key, since, events + 50 + 200, timeout_s=60)
        results["actor_state_bytes_after_200_events"] = _actor_state_bytes(redis_port, f"{tenant}:heavy")
    return results


def _actor_state_bytes(redis_port: int, actor_id: str) -> int | None:
    """Bytes the Redis actor state store holds for the user's profile (its value field)."""
    key = f"profiles||UserProfileActor||{actor_id}||profile"
    out = subprocess.run(
        ["redis-cli", "-p", str(redis_port), "--raw", "HGET", key, "data"], capture_output=True, check=False, timeout=10
    )
    return len(out.stdout.rstrip(b"\n")) if out.returncode == 0 and out.stdout.strip() else None


def main(args: Any) -> int:
    publish: Publish | None = None
    if args.via == "dapr":
        publish = partial(bench_publish.publish_via_dapr, args.sidecar, args.dapr_api_token, args.pubsub)
    elif args.via == "kafka":
        publish = partial(bench_publish.publish_via_kafka, args.kafka, Path(args.kafka_libs))
    results = {
        "via": args.via,
        **bench_ingest(args.gateway, args.admin_key, args.events, args.users, args.redis_port, publish),
    }
    print(json.dumps(results, indent=2))
    return 0
