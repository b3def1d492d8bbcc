"""`lemo bench ingest --via http|dapr|kafka` on a mesh of real sidecars (gateway, events, profiles, catalog), for
docs/ingest.md. Not collected by the suite: run it by name,

    flock /tmp/lemo-it.lock env LEMO_TEST_TRIM_STREAMS=1 .venv/bin/pytest -q -p no:cacheprovider -s \\
        tests/integration/bench_ingest.py

On the Redis Streams profile it measures --via http and --via dapr (bulk publish through a tenant's own sidecar); on
the Kafka profile --via kafka (Kafka's console producer) and --via dapr. INGEST_BENCH_N events (default 10,000) of
INGEST_BENCH_USERS users (1,000) each; the figures go to .state/bench/ingest/<profile>-<via>.json with the load
average before the run (the machine is shared: a busy one shows there).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from lemo_cli import bench_ingest, bench_publish
from tests.integration.conftest import unique
from tests.integration.mesh import ROOT, App, uvicorn
from tests.integration.test_ingest import KAFKA_LIBS, KAFKA_PORT

logger = logging.getLogger(__name__)

OUT = ROOT / ".state" / "bench" / "ingest"
N = int(os.environ.get("INGEST_BENCH_N", "10000"))
USERS = int(os.environ.get("INGEST_BENCH_USERS", "1000"))
ADMIN_KEY = "bench-admin-" + uuid.uuid4().hex


PROFILES = os.environ.get("INGEST_BENCH_PROFILES", "redis,kafka").split(",")
VIAS = os.environ.get("INGEST_BENCH_VIA", "http,dapr,kafka").split(",")


@pytest.fixture(scope="module", params=PROFILES)
def mesh(request: pytest.FixtureRequest, app_env: dict[str, str]) -> Iterator[tuple[str, dict[str, App]]]:
    profile: str = request.param
    apps: dict[str, App] = {}
    consuming = {**app_env, "INGEST_ENABLED": "true"}  # conftest turns the ingest topics off for other modules
    try:
        for name in ("catalog", "profiles", "events"):
            apps[name] = App(unique(name), uvicorn(f"apps.{name}.main"), profile=profile, env=consuming).start()
        env = {
            **app_env,
            "LEMO_ADMIN_KEY": ADMIN_KEY,
            "LEMO_LOG_LEVEL": "WARNING",
            **{f"GATEWAY_{n.upper()}_APP": apps[n].app_id for n in ("catalog", "profiles", "events")},
        }
        apps["gateway"] = App(unique("gateway"), uvicorn("apps.gateway.main"), profile=profile, env=env).start()
        apps["publisher"] = App(unique("publisher"), None, profile=profile, dapr_api_token="").start()
        yield profile, apps
    finally:
        for app in apps.values():
            app.stop()


@pytest.mark.timeout(1800)
def test_bench_ingest(mesh: tuple[str, dict[str, App]]) -> None:
    profile, apps = mesh
    gateway = f"http://127.0.0.1:{apps['gateway'].app_port}"
    publishers: dict[str, bench_ingest.Publish | None] = {
        "dapr": partial(bench_publish.publish_via_dapr, apps["publisher"].sidecar, None, "pubsub")
    }
    if profile == "redis":
        publishers["http"] = None
    else:
        publishers["kafka"] = partial(bench_publish.publish_via_kafka, f"127.0.0.1:{KAFKA_PORT}", KAFKA_LIBS)
    OUT.mkdir(parents=True, exist_ok=True)
    for via, publish in publishers.items():
        if via not in VIAS:
            continue
        load = Path("/proc/loadavg").read_text().split()[:3]
        results: dict[str, Any] = {"profile": profile, "via": via, "load_before": load}
        results |= bench_ingest.bench_ingest(gateway, ADMIN_KEY, N, USERS, 6380, publish)
        (OUT / f"{profile}-{via}.json").write_text(json.dumps(results, indent=2))
        logger.warning("ingest bench %s", json.dumps(results))
        assert results["end_to_end_events_per_s"] > 0
