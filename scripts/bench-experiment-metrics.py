"""Experiment readouts over a scenario with many served lists: counting cost and read latency.

Counts `--lists` served lists of a fresh tenant's scenario (two variants, evenly over the last `--days` days, in time
order, batches of 1,000) and a click on every tenth list plus a purchase on every hundredth, through the code the
archive consumer runs per delivery (`SidecarEventCounts.add_exposures` / `add`), into the state store of a sidecar
(the events app's under `make up`; the Dapr API token from DAPR_API_TOKEN or .state). Then it times what a metrics
call does after the gateway's hop: the bulk read of the window's buckets and the readout with its intervals, for
an hour series over the whole span, a minute series over the last day and a day series, and checks the totals.

    .venv/bin/python scripts/bench-experiment-metrics.py --lists 100000 --days 7
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections import Counter

from apps.events.counts import SidecarEventCounts
from apps.shared.sidecar import SidecarHttp
from lemo.events import Event, EventType
from lemo.experiments import readout
from lemo.experiments.counts import Interval, by_slot, series_cells, widen
from lemo.exposures import Exposure
from lemo.scenarios import Experiment, Variant

EXPERIMENT = Experiment(
    experiment_id="ab", variants=[Variant(variant_id="control", traffic=50), Variant(variant_id="b", traffic=50)]
)


async def _seed(counts: SidecarEventCounts, tenant: str, n: int, span_s: float, now: float) -> tuple[float, float]:
    lists_s = events_s = 0.0
    for start in range(0, n, 1000):
        batch = [
            Exposure.model_construct(
                request_id=f"r{k}",
                tenant_id=tenant,
                user_id=f"u{k}",
                scenario="home",
                experiment="ab",
                variant="control" if k % 2 else "b",
                items=[f"i{j}" for j in range(10)],
                timestamp=now - span_s + k * span_s / n,
            )
            for k in range(start, min(start + 1000, n))
        ]
        t0 = time.perf_counter()
        await counts.add_exposures(batch)
        lists_s += time.perf_counter() - t0
        events = [
            Event.model_construct(
                event_id=f"e{e.request_id}-{kind}",
                tenant_id=tenant,
                user_id=e.user_id,
                item_id="i1",
                type=kind,
                timestamp=e.timestamp + 5,
                scenario="home",
                context={"request_id": e.request_id},
            )
            for k, e in enumerate(batch, start)
            for kind in ([EventType.CLICK] if k % 10 == 0 else []) + ([EventType.PURCHASE] if k % 100 == 0 else [])
        ]
        t0 = time.perf_counter()
        await counts.add(events)
        events_s += time.perf_counter() - t0
    return lists_s, events_s


async def _readout(counts: SidecarEventCounts, tenant: str, since: float, until: float, interval: Interval) -> float:
    """One metrics call's work after the gateway's hop; returns the lists counted."""
    window = widen(since, until, interval)
    buckets = await counts.experiment_buckets(series_cells(tenant, "home", window, time.time() + 300))
    totals: Counter[str] = Counter()
    for b in buckets:
        totals.update(b)
    series = [(s, by_slot(b)) for s, b in zip(window.starts, buckets, strict=True)]
    body = readout.scenario_metrics("home", EXPERIMENT, window.since, window.until, interval, by_slot(totals), series)
    return sum(v.exposures for v in body.variants)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lists", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--sidecar", default="http://127.0.0.1:3501", help="a sidecar with the state store (events')")
    parser.add_argument("--state-store", default="statestore")
    args = parser.parse_args()
    token = os.environ.get("DAPR_API_TOKEN") or open(".state/dapr-api-token").read().strip()  # noqa: ASYNC230
    http = SidecarHttp(args.sidecar, 30.0, {"dapr-api-token": token})
    counts = SidecarEventCounts(http, args.state_store)
    tenant, now, span_s = f"bench{uuid.uuid4().hex[:8]}", time.time(), args.days * 86400
    lists_s, events_s = await _seed(counts, tenant, args.lists, span_s, now)
    clicks = args.lists // 10 + args.lists // 100
    print(
        f"counted {args.lists:,} lists in {lists_s:.1f} s ({args.lists / lists_s:,.0f}/s) and {clicks:,} attributed "
        f"events in {events_s:.1f} s ({clicks / events_s:,.0f}/s), tenant {tenant}"
    )
    cases = [
        ("hour series over the whole span", now - span_s, now + 1, Interval.HOUR),
        ("minute series over the last day", now - 86400 + 61, now, Interval.MINUTE),
        ("day series over the whole span", now - span_s, now + 1, Interval.DAY),
    ]
    for name, since, until, interval in cases:
        ms, lists = [], 0.0
        for _ in range(args.queries):
            t0 = time.perf_counter()
            lists = await _readout(counts, tenant, since, until, interval)
            ms.append((time.perf_counter() - t0) * 1000)
        q = statistics.quantiles(ms, n=100)
        print(f"{name}: {len(widen(since, until, interval).starts)} rows, {lists:,.0f} lists, p50 {q[49]:.1f} ms, "
              f"p99 {q[98]:.1f} ms")  # fmt: skip
    assert await _readout(counts, tenant, now - span_s - 86400, now + 1, Interval.DAY) == args.lists
    await http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
