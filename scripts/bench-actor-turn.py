"""The CPU cost of one user-actor turn through the profiles sidecar, against a running `make up`.

The event path's floor: every event that reaches a user alone in its delivery costs one actor turn (the profiles
consumer's call into its sidecar, the sidecar's call into the actor, the actor's state save through the sidecar).
This calls the sidecar's actor API directly, concurrently, and prints the CPU each process spent per call (from
/proc, as lemo_cli/bench_recommend.py does), for three kinds of call:

- `healthz`: a service invocation of the profiles app's health route (no actor): the sidecar's and app's HTTP cost;
- `record`: RecordEvents with one new event, the turn the event path makes (with its state save);
- `get`: GetProfile, a read-only turn of an active actor whose state is in memory (no store access).

    .venv/bin/python scripts/bench-actor-turn.py --calls 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from apps.shared.security import TOKEN_HEADER
from lemo_cli.bench_recommend import cpu_ms_per_request, mesh_cpu_seconds

SHOWN = ("profiles", "profiles/daprd", "redis-server", "placement")


def _token() -> str | None:
    state = Path(os.environ.get("LEMO_STATE", ".state"))
    found = state / "dapr-api-token"
    return os.environ.get("DAPR_API_TOKEN") or (found.read_text().strip() if found.exists() else None)


async def _run(
    session: aiohttp.ClientSession, calls: int, concurrency: int, request: Callable[[int], tuple[str, str, Any]]
) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(n: int) -> None:
        nonlocal failures
        method, url, body = request(n)
        async with gate, session.request(method, url, json=body) as resp:
            await resp.read()
            failures += resp.status >= 300

    before = mesh_cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(calls)))
    seconds = time.perf_counter() - started
    spent = cpu_ms_per_request(before, mesh_cpu_seconds(), calls)
    per_call = {k: spent.get(k, 0.0) for k in SHOWN}
    return {"calls_per_s": round(calls / seconds), "failures": failures, "cpu_ms_per_call": per_call}


def _event(tenant: str, user: str) -> dict[str, Any]:
    return {
        "event": {
            "tenant_id": tenant,
            "user_id": user,
            "item_id": f"i{uuid.uuid4().hex[:6]}",
            "type": "click",
            "event_id": uuid.uuid4().hex,
            "timestamp": time.time(),
        },
        "keys": ["c:drama", "t:classic"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sidecar", default="http://127.0.0.1:3502", help="the profiles app's sidecar (dapr.yaml)")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    tenant = f"turnbench{uuid.uuid4().hex[:6]}"
    actor = f"{args.sidecar}/v1.0/actors/UserProfileActor"
    headers = {TOKEN_HEADER: token} if (token := _token()) else {}
    results: dict[str, Any] = {}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as session:
        # Activate every actor first, so the measured turns find them in memory, as a busy user's do.
        await _run(
            session, args.users, args.concurrency, lambda n: ("PUT", f"{actor}/{tenant}:u{n}/method/GetProfile", None)
        )
        results["healthz"] = await _run(
            session,
            args.calls,
            args.concurrency,
            lambda n: ("GET", f"{args.sidecar}/v1.0/invoke/profiles/method/healthz", None),
        )
        results["record"] = await _run(
            session,
            args.calls,
            args.concurrency,
            lambda n: (
                "PUT",
                f"{actor}/{tenant}:u{n % args.users}/method/RecordEvents",
                {"events": [_event(tenant, f"u{n % args.users}")]},
            ),
        )
        results["get"] = await _run(
            session,
            args.calls,
            args.concurrency,
            lambda n: ("PUT", f"{actor}/{tenant}:u{n % args.users}/method/GetProfile", None),
        )
    print(json.dumps({"calls": args.calls, "users": args.users, "concurrency": args.concurrency, **results}))


if __name__ == "__main__":
    asyncio.run(main())
