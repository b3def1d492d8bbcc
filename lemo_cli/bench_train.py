"""`lemo bench train`: the full offline pipeline (every model, evaluation, embeddings, index, activation) on a
tenant's data through the running mesh (`make up`; the demo tenant holds MovieLens-100k), with per-step times.

`lemo bench train --local --events N` runs the same steps in this process on a seeded synthetic tenant, without
the mesh (lemo_cli.bench_local): the functions the trainer's activities call, one step at a time, with each step's
time and peak memory; with `--concurrent`, scheduled as the workflow schedules them, for the run's wall time."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

from lemo_cli.model_commands import follow
from lemo_client import LemoClient, ModelsApi


def bench_train(client: LemoClient, kinds: list[str] | None) -> dict[str, Any]:
    api = ModelsApi(client)
    started = time.monotonic()
    run_id = api.train({"kinds": kinds} if kinds else {})
    run = follow(api, run_id, quiet=True, poll_s=0.2)
    wall = time.monotonic() - started
    if run["status"] != "COMPLETED":
        raise RuntimeError(f"run {run_id} {run['status']}: {run.get('failure')}")
    output = run["output"]
    return {
        "run_id": run_id,
        "wall_seconds": round(wall, 1),
        "interactions": output["exported"]["interactions"],
        "incremental_export": output["exported"].get("incremental"),
        "timings": output["timings"],
        "metrics": {k: m["metrics"] for k, m in output["models"].items()},
    }


def _table(result: dict[str, Any]) -> str:
    t = result["timings"]
    rows = [("export", t["export"]), ("features", t["features"])]
    rows += [(f"train {k}", s) for k, s in sorted(t["train"].items(), key=lambda kv: -kv[1])]
    rows += [(f"evaluate {k}", s) for k, s in sorted(t["evaluate"].items(), key=lambda kv: -kv[1])]
    rows += [("index vectors", t["index"])]
    lines = [f"{name:<24} {seconds:7.2f} s" for name, seconds in rows]
    lines.append(f"{'wall (start -> active)':<24} {result['wall_seconds']:7.1f} s   ({result['interactions']} events)")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", help="tenant id (required without --local)")
    parser.add_argument("--api-key", default=os.environ.get("LEMO_API_KEY"), help="the tenant's key")
    parser.add_argument("--kinds", default="", help="comma-separated model kinds (default: all)")
    parser.add_argument("--json", action="store_true", help="also print the raw result")
    parser.add_argument("--local", action="store_true", help="in this process on a synthetic tenant, no mesh")
    parser.add_argument("--events", type=int, default=1_000_000, help="--local: events of the synthetic tenant")
    parser.add_argument("--items", type=int, default=100_000, help="--local: catalog size")
    parser.add_argument("--users", type=int, default=100_000, help="--local: users")
    parser.add_argument(
        "--concurrent",
        action="store_true",
        help="--local: run the steps as the workflow schedules them (fan-outs on threads): the run's wall time",
    )
    parser.add_argument("--evaluation-users", type=int, default=5_000, help="--local: holdout users scored (0: all)")


def main(args: argparse.Namespace, client_for: Callable[[argparse.Namespace], LemoClient]) -> int:
    kinds = args.kinds.split(",") if args.kinds else None
    if args.local:
        from lemo_cli.bench_local import bench_local, table  # torch and the models: only this mode needs them

        local = bench_local(
            args.events,
            args.items,
            args.users,
            kinds,
            concurrent=args.concurrent,
            evaluation_users=args.evaluation_users,
        )
        print(table(local))
        if args.json:
            print(json.dumps(local, indent=2))
        return 0
    if not args.tenant:
        raise SystemExit("lemo bench train: --tenant is required without --local")
    with client_for(args) as client:
        result = bench_train(client, kinds)
    print(_table(result))
    if args.json:
        print(json.dumps(result, indent=2))
    return 0
