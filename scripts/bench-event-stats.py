"""Event stats latency over a tenant with a million counted events: the pre-aggregated counts, any window.

Counts 1,000,000 events of a fresh tenant (evenly over the last `--days` days, in time order, random types) into
the store the events app keeps them in, through the code the archive consumer runs per delivery
(`SidecarEventCounts.add`, batches of 1,000), then asks for `--queries` random windows (a minute to the whole span) and
prints latency percentiles: straight from the store through a sidecar (the events app's under `make up`; the Dapr API
token from DAPR_API_TOKEN or .state), and through the public API when a gateway and the tenant's key are given
(the tenant is then the key's).

    .venv/bin/python scripts/bench-event-stats.py --events 1000000
    .venv/bin/python scripts/bench-event-stats.py --events 1000000 --gateway http://127.0.0.1:8080 \\
        --api-key $(cat .state/demo-api-key) --tenant demo
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid

import httpx

from apps.events.counts import SidecarEventCounts
from apps.shared.sidecar import SidecarHttp
from lemo.events import Event, EventType


def _percentiles(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms, max {max(ms):.1f} ms"


async def _seed(counts: SidecarEventCounts, tenant: str, n: int, span_s: float, now: float) -> float:
    types = [t for t in EventType]
    started = time.perf_counter()
    rng = random.Random(1)
    for start in range(0, n, 1000):
        batch = [
            Event.model_construct(
                event_id=f"e{start + i}",
                tenant_id=tenant,
                user_id=f"u{rng.randrange(10_000)}",
                item_id=f"i{rng.randrange(10_000)}",
                type=rng.choice(types),
                # In time order, as a live stream arrives: a delivery touches a few minutes, not the whole year.
                timestamp=now - span_s + (start + i) * span_s / n,
            )
            for i in range(min(1000, n - start))
        ]
        await counts.add(batch)
    return time.perf_counter() - started


def _windows(k: int, span_s: float, now: float) -> list[tuple[float, float]]:
    rng = random.Random(2)
    out = []
    for _ in range(k):
        length = 60 * 10 ** rng.uniform(0, 6) if rng.random() < 0.9 else span_s  # a minute to the whole span
        since = now - rng.random() * max(span_s - length, 0) - length
        out.append((since, since + length))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--tenant", default=f"bench{uuid.uuid4().hex[:8]}")
    parser.add_argument("--gateway", default=None, help="also time GET /v1/events/stats through this gateway")
    parser.add_argument("--api-key", default=os.environ.get("LEMO_API_KEY"))
    parser.add_argument("--sidecar", default="http://127.0.0.1:3501", help="a sidecar with the state store (events')")
    parser.add_argument("--state-store", default="statestore")
    args = parser.parse_args()
    token = os.environ.get("DAPR_API_TOKEN") or open(".state/dapr-api-token").read().strip()  # noqa: ASYNC230
    http = SidecarHttp(args.sidecar, 30.0, {"dapr-api-token": token})
    counts = SidecarEventCounts(http, args.state_store)
    now, span_s = time.time(), args.days * 86400
    took = await _seed(counts, args.tenant, args.events, span_s, now)
    print(f"counted {args.events:,} events of tenant {args.tenant} in {took:.1f} s ({args.events / took:,.0f}/s)")

    windows = _windows(args.queries, span_s, now)
    ms = []
    for since, until in windows:
        t0 = time.perf_counter()
        await counts.window(args.tenant, since, until)
        ms.append((time.perf_counter() - t0) * 1000)
    whole = await counts.window(args.tenant, 0, now + 60)
    assert sum(whole.values()) == args.events, whole
    print(f"store, {len(windows)} random windows: {_percentiles(ms)}")
    if args.gateway and args.api_key:
        ms = []
        with httpx.Client(base_url=args.gateway, headers={"X-API-Key": args.api_key}, timeout=30) as api:
            for since, until in windows:
                t0 = time.perf_counter()
                api.get("/v1/events/stats", params={"since": since, "until": until}).raise_for_status()  # noqa: ASYNC212
                ms.append((time.perf_counter() - t0) * 1000)
        print(f"GET /v1/events/stats, {len(windows)} random windows: {_percentiles(ms)}")
    await http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
