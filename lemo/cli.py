"""The `lemo` command line. It talks to a running mesh through the public gateway, not to sidecars."""

from __future__ import annotations

import argparse
import json
import os
import sys

import httpx

from lemo import __version__


def _gateway_url() -> str:
    port = os.environ.get("LEMO_GATEWAY_HTTP_PORT", "8080")
    return os.environ.get("LEMO_GATEWAY_URL", f"http://127.0.0.1:{port}")


def _status(args: argparse.Namespace) -> int:
    try:
        resp = httpx.get(f"{args.gateway}/v1/status", timeout=10)
    except httpx.HTTPError as exc:
        print(f"gateway not reachable at {args.gateway}: {exc} (is `make up` running?)", file=sys.stderr)
        return 2
    body = resp.json()
    for app_id, result in body.get("apps", {}).items():
        state = "ok" if result.get("ok") else f"DOWN ({result.get('error', 'unhealthy')})"
        print(f"{app_id:<10} {state:<40} {result.get('ms', 0):>7.1f} ms")
    if args.json:
        print(json.dumps(body, indent=2))
    return 0 if body.get("healthy") else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lemo", description="Lemo Recommender command line")
    parser.add_argument("--version", action="version", version=f"lemo {__version__}")
    parser.add_argument("--gateway", default=_gateway_url(), help="gateway base URL (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="health of every app, asked through the sidecars")
    status.add_argument("--json", action="store_true", help="also print the raw status document")
    status.set_defaults(run=_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
