"""`lemo train` and `lemo models`: training runs and model versions through the gateway's /v1/models API."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from lemo_client import LemoClient, ModelsApi

ClientFactory = Callable[[argparse.Namespace], LemoClient]
_FINAL = {"COMPLETED", "FAILED", "TERMINATED"}


def follow(api: ModelsApi, run_id: str, quiet: bool, poll_s: float = 0.5) -> dict[str, Any]:
    """Polls a run until it ends, moving a progress bar along its steps."""
    bar = tqdm(total=1, unit="step", desc="train", disable=quiet, file=sys.stderr)
    try:
        while True:
            run = api.run(run_id)
            progress = run.get("progress") or {}
            if progress:
                bar.total = progress["total"]
                bar.n = progress["done"]
                bar.set_description(f"train: {progress['step']}")
                bar.refresh()
            if run["status"] in _FINAL:
                return run
            time.sleep(poll_s)
    finally:
        bar.close()


def _metrics_line(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))


def _train(args: argparse.Namespace, client_for: ClientFactory) -> int:
    options: dict[str, Any] = {"policy": args.policy}
    if args.kinds:
        options["kinds"] = args.kinds.split(",")
    if args.max_interactions:
        options["max_interactions"] = args.max_interactions
    if args.evaluation_users is not None:
        options["evaluation_users"] = args.evaluation_users
    with client_for(args) as client:
        api = ModelsApi(client)
        run_id = api.train(options)
        print(f"run {run_id}", file=sys.stderr)
        if not args.wait:
            print(json.dumps({"run_id": run_id}))
            return 0
        run = follow(api, run_id, args.quiet)
    output = run.get("output") or {}
    for kind, model in sorted((output.get("models") or {}).items()):
        state = "active" if model["activated"] else "candidate"
        print(
            f"{kind:<10} v{model['version']:<4} {state:<9} {model['train_seconds']:6.1f} s  "
            f"{_metrics_line(model['metrics'])}  ({model['reason']})"
        )
    if run["status"] != "COMPLETED":
        print(f"run {run_id} {run['status']}: {run.get('failure')}", file=sys.stderr)
        return 1
    return 0


def _models(args: argparse.Namespace, client_for: ClientFactory) -> int:
    with client_for(args) as client:
        api = ModelsApi(client)
        if args.action == "activate":
            print(json.dumps(api.activate(args.kind, args.version)))
            return 0
        if args.action == "rollback":
            print(json.dumps(api.rollback(args.kind)))
            return 0
        listing = api.versions(args.kind)
    for v in listing["versions"]:
        print(f"{v['kind']:<10} v{v['version']:<4} {v['status']:<9} {v['run_id']:<34} {_metrics_line(v['metrics'])}")
    return 0


def add_commands(
    commands: Any, client_for: ClientFactory, tenant_args: Callable[[argparse.ArgumentParser], None]
) -> None:
    train = commands.add_parser("train", help="start a training run (all models) and follow it")
    tenant_args(train)
    train.add_argument("--wait", action="store_true", help="follow the run with a progress bar until it ends")
    train.add_argument("--kinds", default="", help="comma-separated model kinds (default: all)")
    train.add_argument("--policy", default="better", choices=["better", "always", "manual"])
    train.add_argument("--max-interactions", type=int, default=None, help="train on the newest N events only")
    train.add_argument(
        "--evaluation-users",
        type=int,
        default=None,
        help="holdout users each model is scored on (default 5000, 0: all)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=lambda args: _train(args, client_for))

    models = commands.add_parser("models", help="list, activate or roll back model versions")
    tenant_args(models)
    actions = models.add_subparsers(dest="action")
    listing = actions.add_parser("list", help="versions with their holdout metrics (the default)")
    listing.add_argument("--kind", default=None)
    activate = actions.add_parser("activate", help="make a version the serving one")
    activate.add_argument("kind")
    activate.add_argument("version", type=int)
    back = actions.add_parser("rollback", help="re-activate the version that served before the current one")
    back.add_argument("kind")
    models.set_defaults(run=lambda args: _models(args, client_for), action="list", kind=None)
