"""The read path's CPU per online request, per process, on the integration mesh of test_recommendations.py (not
collected by the suite: run it by name, docs/benchmarks.md "Read path: the stage contract"):

    flock /tmp/lemo-it.lock .venv/bin/pytest -q -p no:cacheprovider tests/integration/bench_read_path.py

Waits until the mesh is quiet (the sample's events have reached the actors), then serves READ_PATH_BENCH_N
sequential online lists (debug=false, then debug=true) and reads each app's and sidecar's CPU from /proc. With
READ_PATH_BENCH_SPY=1 py-spy samples the gateway and the stages during the debug=false run (raw stacks). The
figures go to READ_PATH_BENCH_OUT (default .state/bench/read-path) as JSON, and to the log.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.mesh import ROOT, App
from tests.integration.test_recommendations import artifacts, mesh, trained

__all__ = ["artifacts", "mesh", "trained"]  # the fixtures this module runs on

logger = logging.getLogger(__name__)

OUT = Path(os.environ.get("READ_PATH_BENCH_OUT", ROOT / ".state" / "bench" / "read-path"))
N = int(os.environ.get("READ_PATH_BENCH_N", "300"))
MEASURED = ("gateway", "recall", "ranking", "rerank", "profiles", "events")
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _pids(apps: dict[str, App]) -> dict[str, int]:
    pids = {}
    for name in MEASURED:
        app = apps[name]
        assert app._app is not None and app._daprd is not None
        pids[name], pids[f"{name}-daprd"] = app._app.pid, app._daprd.pid
    return pids


def _quiet(pids: dict[str, int], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = sum(_cpu_s(p) for p in pids.values())
        time.sleep(3)
        if sum(_cpu_s(p) for p in pids.values()) - before < 0.15:
            return


def _spy_output(name: str) -> list[str]:
    return ["-o", str(OUT / f"{name}.txt"), "--duration", "600"]


def _spies(pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    spy = str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pids[name]),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                *_spy_output(name),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("gateway", "recall", "ranking", "rerank")
    ]


def test_read_path_cpu_per_request(mesh: dict[str, App], trained: tuple[str, httpx.Client]) -> None:
    _, client = trained
    OUT.mkdir(parents=True, exist_ok=True)
    pids = _pids(mesh)
    for debug in ("false", "true"):
        _quiet(pids)
        for _ in range(20):
            client.get("/v1/users/1/recommendations", params={"count": 10, "debug": debug})
        spies = _spies(pids) if debug == "false" and os.environ.get("READ_PATH_BENCH_SPY") == "1" else []
        time.sleep(2 if spies else 0)
        before = {k: _cpu_s(p) for k, p in pids.items()}
        started, degraded = time.perf_counter(), 0
        for i in range(N):
            resp = client.get(f"/v1/users/{i % 40 + 1}/recommendations", params={"count": 10, "debug": debug})
            assert resp.status_code == 200, resp.text
            degraded += bool(resp.json()["degraded"])
        wall_s = time.perf_counter() - started
        used = {k: round((_cpu_s(p) - before[k]) / N * 1000, 2) for k, p in pids.items()}
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        result = {
            "debug": debug,
            "requests": N,
            "degraded": degraded,
            "wall_ms_per_request": round(wall_s / N * 1000, 2),
            "cpu_ms_per_request": used,
            "total_ms": round(sum(used.values()), 2),
        }
        (OUT / f"cpu-debug-{debug}.json").write_text(json.dumps(result, indent=1))
        logger.warning("read path CPU per request: %s", json.dumps(result))
        assert degraded == 0, result
