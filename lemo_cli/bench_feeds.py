"""`lemo bench feeds`: how fast the mesh precomputes feeds (`make up`, demo tenant trained).

Asks the gateway to refresh every feed of the tenant (`POST /v1/feeds/refresh`: feed-refresh workflows of many
users each), follows the runs until all have ended, and prints the feeds saved per second, the degraded ones, and
the CPU each part of the mesh spent per feed (from /proc, when the mesh runs on this machine).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from lemo_cli.bench_recommend import cpu_ms_per_request, mesh_cpu_seconds
from lemo_client import ApiError, LemoClient

_ENDED = {"COMPLETED", "FAILED", "TERMINATED", "UNKNOWN"}


def bench(gateway: str, api_key: str, timeout_s: float) -> dict[str, Any]:
    with LemoClient(gateway, api_key=api_key, timeout_s=30) as client:
        before, started = mesh_cpu_seconds(), time.perf_counter()
        refresh = client.refresh_feeds()
        runs: dict[str, dict[str, Any]] = {run: {} for run in refresh["runs"]}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(r.get("status") not in _ENDED for r in runs.values()):
            time.sleep(0.5)
            for run, state in runs.items():
                if state.get("status") not in _ENDED:
                    try:
                        runs[run] = client.feeds_refresh_run(run)
                    except ApiError as exc:
                        runs[run] = {"status": f"HTTP {exc.status_code}"}
        wall_s = time.perf_counter() - started
        after = mesh_cpu_seconds()
    saved = sum(int(r.get("saved", 0)) for r in runs.values())
    cpu = cpu_ms_per_request(before, after, saved)
    return {
        "users": refresh["users"],
        "runs": len(runs),
        "ended": sum(1 for r in runs.values() if r.get("status") in _ENDED),
        "failed": sum(1 for r in runs.values() if r.get("status") not in ("COMPLETED",)),
        "saved": saved,
        "degraded": sum(int(r.get("degraded", 0)) for r in runs.values()),
        "seconds": round(wall_s, 1),
        "feeds_per_s": round(saved / wall_s, 1) if wall_s else 0.0,
        "cpu_ms_per_feed": {"total": round(sum(cpu.values()), 1), **cpu},
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key", required=True, help="a key of a tenant with trained models (make up: demo)")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="how long to wait for the runs")


def main(args: argparse.Namespace) -> int:
    result = bench(args.gateway, args.api_key, args.timeout_s)
    print(json.dumps(result, indent=1))
    return 0 if result["failed"] == 0 and result["ended"] == result["runs"] else 1
