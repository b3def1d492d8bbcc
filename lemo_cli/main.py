"""The `lemo` command line. It talks to a running mesh through the public gateway, not to sidecars."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from lemo import __version__
from lemo_cli import bench_feeds, bench_ingest, bench_recommend, bench_train, loaders, model_commands
from lemo_client import ApiError, LemoClient, TransportFailure


def _gateway_url() -> str:
    port = os.environ.get("LEMO_GATEWAY_HTTP_PORT", "8080")
    return os.environ.get("LEMO_GATEWAY_URL", f"http://127.0.0.1:{port}")


def _unreachable(args: argparse.Namespace, exc: Exception) -> int:
    print(f"gateway not reachable at {args.gateway}: {exc} (is `make up` running?)", file=sys.stderr)
    return 2


def _status(args: argparse.Namespace) -> int:
    try:
        with LemoClient(args.gateway, timeout_s=10) as client:
            body = client.status()
    except (TransportFailure, ValueError) as exc:
        return _unreachable(args, exc)
    for app_id, result in body.get("apps", {}).items():
        state = "ok" if result.get("ok") else f"DOWN ({result.get('error', 'unhealthy')})"
        print(f"{app_id:<10} {state:<40} {result.get('ms', 0):>7.1f} ms")
    if args.json:
        print(json.dumps(body, indent=2))
    return 0 if body.get("healthy") else 1


def _dead_letters(args: argparse.Namespace) -> int:
    """Lists the events dead letter, or replays it (admin key)."""
    key = os.environ.get("LEMO_ADMIN_KEY")
    if not key:
        print("set LEMO_ADMIN_KEY (make up keeps it in .state/admin-key)", file=sys.stderr)
        return 2
    try:
        with LemoClient(args.gateway, admin_key=key, timeout_s=60) as client:
            if args.action == "replay":
                body = client.replay_dead_letters(args.tenant)
            else:
                body = client.dead_letters(args.tenant)
    except TransportFailure as exc:
        return _unreachable(args, exc)
    except ApiError as exc:
        print(json.dumps({"error": {"code": exc.code, "message": exc.message, **exc.details}}, indent=2))
        return 1
    print(json.dumps(body, indent=2))
    return 0


def _client(args: argparse.Namespace) -> LemoClient:
    client = LemoClient(args.gateway, api_key=args.api_key, admin_key=os.environ.get("LEMO_ADMIN_KEY"))
    if not client.api_key:
        key = client.ensure_tenant(args.tenant)
        print(f"tenant {args.tenant}: new API key {key}", file=sys.stderr)
    return client


def _load(args: argparse.Namespace) -> int:
    started = time.monotonic()
    with _client(args) as client:
        if args.source == "movielens":
            report = loaders.load_movielens(client, quiet=args.quiet, limit=args.limit)
        else:
            report = loaders.load_interactions(client, Path(args.file), quiet=args.quiet)
    print(
        json.dumps(
            {
                "tenant": args.tenant,
                "items": report.items,
                "users": report.users,
                "events_accepted": report.events_accepted,
                "events_rejected": report.events_rejected,
                "seconds": round(time.monotonic() - started, 1),
                "errors": report.errors[:5],
            }
        )
    )
    return 0 if report.events_rejected == 0 else 1


def _tenant_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id (created with LEMO_ADMIN_KEY if needed)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LEMO_API_KEY"),
        help="the tenant's key (default: $LEMO_API_KEY; else a new one via the admin key)",
    )


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lemo", description="Lemo Recommender command line")
    parser.add_argument("--version", action="version", version=f"lemo {__version__}")
    parser.add_argument("--gateway", default=_gateway_url(), help="gateway base URL (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="health of every app, asked through the sidecars")
    status.add_argument("--json", action="store_true", help="also print the raw status document")
    status.set_defaults(run=_status)

    dead = commands.add_parser("deadletters", help="events the pipeline gave up on: list them, or replay them")
    dead.add_argument("action", nargs="?", choices=["list", "replay"], default="list")
    dead.add_argument("--tenant", default=None, help="only this tenant's (default: every tenant)")
    dead.set_defaults(run=_dead_letters)

    load = commands.add_parser("load", help="load data through the public API (safe to run twice)")
    sources = load.add_subparsers(dest="source", required=True)
    for source in (
        sources.add_parser("movielens", help="MovieLens-100k (from the recbole package)"),
        sources.add_parser("interactions", help="a CSV or Parquet file of interactions"),
    ):
        if source.prog.endswith("interactions"):
            source.add_argument("file", help="CSV or Parquet: user_id, item_id, timestamp[, value][, type]")
        else:
            source.add_argument("--limit", type=int, default=None, help="load only the first N ratings")
        _tenant_args(source)
        source.add_argument("--quiet", action="store_true", help="no progress bars")
        source.set_defaults(run=_load)

    model_commands.add_commands(commands, _client, _tenant_args)

    evaluate = commands.add_parser(
        "eval", help="offline evaluation on MovieLens-100k (or --interactions FILE): every channel and the pipeline"
    )
    if "eval" in (sys.argv[1:] if argv is None else argv):  # its imports (torch, models) cost seconds
        from lemo_cli.eval_command import add_eval_arguments, run_eval

        add_eval_arguments(evaluate)
        evaluate.set_defaults(run=run_eval)

    bench_parser = commands.add_parser("bench", help="benchmarks against a running mesh (`make up`)")
    benches = bench_parser.add_subparsers(dest="bench", required=True)
    ingest = benches.add_parser("ingest", help="events/s, freshness, actor state size, catalog batch speed")
    ingest.add_argument("--events", type=int, default=20_000)
    ingest.add_argument("--users", type=int, default=2_000)
    ingest.add_argument("--redis-port", type=int, default=int(os.environ.get("LEMO_REDIS_PORT", "6380")))
    ingest.add_argument("--admin-key", default=os.environ.get("LEMO_ADMIN_KEY"))
    ingest.add_argument("--via", choices=["http", "dapr", "kafka"], default="http", help="the way in (docs/ingest.md)")
    ingest.add_argument("--sidecar", default="http://127.0.0.1:3500", help="--via dapr: the sidecar to publish through")
    ingest.add_argument("--dapr-api-token", default=os.environ.get("DAPR_API_TOKEN"), help="--via dapr: its token")
    ingest.add_argument("--pubsub", default="pubsub", help="--via dapr: the pub/sub component")
    ingest.add_argument("--kafka", default="127.0.0.1:19092", help="--via kafka: bootstrap servers")
    ingest.add_argument(
        "--kafka-libs",
        default=str(Path(os.environ.get("LEMO_CACHE", Path.home() / ".cache/lemo")) / "kafka/libs"),
        help="--via kafka: the broker's jars (fetched by scripts/install-stores.sh)",
    )
    ingest.set_defaults(run=bench_ingest.main)
    recommend = benches.add_parser("recommend", help="recommendation latency per mode and rate (demo tenant)")
    recommend.add_argument("--api-key", required=True, help="a key of a tenant with trained models (make up: demo)")
    recommend.add_argument("--modes", default="online,cached,workflow")
    recommend.add_argument("--rates", default="10,25,50,100,150,200", help="requests per second, comma-separated")
    recommend.add_argument("--seconds", type=float, default=10.0, help="seconds per rate")
    recommend.add_argument("--budget-ms", type=float, default=100.0, help="the p99 a rate must keep")
    recommend.set_defaults(run=bench_recommend.main)
    feeds = benches.add_parser("feeds", help="feeds precomputed per second: every user of a tenant refreshed")
    bench_feeds.add_arguments(feeds)
    feeds.set_defaults(run=bench_feeds.main)
    train = benches.add_parser("train", help="the full offline pipeline on a tenant's data, with per-step times")
    bench_train.add_arguments(train)  # --tenant / --api-key too: --local needs no tenant
    train.set_defaults(run=lambda args: bench_train.main(args, _client))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
