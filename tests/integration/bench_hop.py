"""The floor under the read path: what one service-invocation hop costs in CPU, through two real sidecars (not
collected by the suite: run it by name, docs/benchmarks.md "The floor: one hop"):

    flock /tmp/lemo-it.lock .venv/bin/pytest -q -s -p no:cacheprovider tests/integration/bench_hop.py

A caller (this process, aiohttp, as the gateway calls its stages) invokes an echo app through the caller's own
sidecar: caller daprd -> callee daprd -> the app, and back. Measured per call, from /proc: both sidecars and the
app, for an empty GET and for a 30 KB JSON body (500 candidates as columns), against a bare FastAPI app and against
the same app behind the middleware every app of the mesh carries, and against a gRPC app (dapr-ext-grpc, as the
ranking app is built; the caller still speaks HTTP to its own sidecar). HOP_BENCH_N calls each (default 2000).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.mesh import ROOT, App, python_module, uvicorn

logger = logging.getLogger(__name__)

N = int(os.environ.get("HOP_BENCH_N", "2000"))
OUT = Path(os.environ.get("HOP_BENCH_OUT", ROOT / ".state" / "bench" / "hop"))
_TICK = os.sysconf("SC_CLK_TCK")
# 500 candidates as the stage contract's columns: ids and one score each.
BODY = json.dumps({"item_ids": [str(100000 + i) for i in range(500)], "scores": [0.123456 * i for i in range(500)]})


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


@pytest.fixture(scope="module", params=["bare", "house", "grpc"])
def callee(request: pytest.FixtureRequest) -> Iterator[App]:
    if request.param == "grpc":
        app = App("it-echo-grpc", python_module("tests.integration.hop.echo_grpc"), app_protocol="grpc")
        app.env.update(HOP_STACK="grpc", ECHO_APP_PORT=str(app.app_port))
    else:
        app = App(
            f"it-echo-{request.param}", uvicorn("tests.integration.hop.echo_app"), env={"HOP_STACK": request.param}
        )
    yield app.start()
    app.stop()


@pytest.fixture(scope="module")
def caller() -> Iterator[App]:
    app = App("it-hop-caller", command=None)
    yield app.start()
    app.stop()


async def _calls(caller: App, callee: App, body: str | None) -> float:
    url = f"{caller.sidecar}/v1.0/invoke/{callee.app_id}/method/echo"
    async with aiohttp.ClientSession(headers=caller.headers) as session:
        for _ in range(50):  # connections open, both sidecars warm
            async with session.post(url, data=body) if body else session.get(url) as resp:
                await resp.read()
        started = time.perf_counter()
        for _ in range(N):
            async with session.post(url, data=body) if body else session.get(url) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()
        return time.perf_counter() - started


@pytest.mark.parametrize("payload", ["empty", "30KB"])
def test_one_hop(caller: App, callee: App, payload: str) -> None:
    assert caller._daprd is not None and callee._daprd is not None and callee._app is not None
    pids = {"caller-daprd": caller._daprd.pid, "callee-daprd": callee._daprd.pid, "callee-app": callee._app.pid}
    time.sleep(1)
    before = {k: _cpu_s(p) for k, p in pids.items()}
    wall_s = asyncio.run(_calls(caller, callee, BODY if payload == "30KB" else None))
    used = {k: round((_cpu_s(p) - before[k]) / N * 1000, 3) for k, p in pids.items()}
    result = {
        "callee": callee.env["HOP_STACK"],
        "payload": payload,
        "calls": N,
        "wall_ms_per_call": round(wall_s / N * 1000, 3),
        "cpu_ms_per_call": used,
        "total_ms": round(sum(used.values()), 3),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"hop-{result['callee']}-{payload}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
