"""The train workflow through the real trainer app and its daprd sidecar on a seeded synthetic tenant (issue 14's
"10x data": 1,000,000 events, 100,000 items, 100,000 users in <= 10 minutes and <= 8 GB).

Setup, not measured: the tenant (`lemo.datasets.synthetic.tenant`, event times moved to the last days) is written
straight into the stores the trainer reads, through the project's repositories (EventArchive.append_many,
ItemRepository.upsert_many, UserRepository.ensure_many), in a database of its own on the infra's FerretDB; ingesting
1,000,000 events through the mesh would take about 25 minutes. Then a trainer app with its sidecar is started by
the integration harness (tests/integration/mesh.py; the infra of scripts/infra.sh must be up), a run is started
through the sidecar (POST tenants/{t}/runs, as the gateway relays POST /v1/models/train) and followed until it
ends. Measured: the run's wall time, when each step and each model's stage was first seen (polled every 0.5 s),
the seconds the workflow itself reports per step, CPU seconds of the trainer process, its sidecar and FerretDB,
and the trainer's peak resident memory (VmHWM, reset when the run starts). With `--retrain` the trainer process is
restarted and the tenant trained again (the export then reads only what was archived since, and the item text
vectors come from the disk cache). Afterwards the database, the artifacts and the workflows' state are deleted.

    nice -n 10 .venv/bin/python scripts/bench-train-mesh.py --events 100000 --items 10000 --users 10000
    flock /tmp/lemo-it.lock .venv/bin/python scripts/bench-train-mesh.py --events 1000000 --items 100000 \
        --users 100000 --json /tmp/bench-train-1m.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the integration harness lives in tests/

from lemo.datasets.synthetic import tenant as synthetic_tenant
from lemo.events import Event
from lemo.stores.mongo import EventArchive, ItemRepository, UserRepository
from tests.integration.mesh import App, port_open, uvicorn

MONGODB_URI = os.environ.get("LEMO_MONGODB_URI", "mongodb://127.0.0.1:27018/")
INFRA = {"redis": 6380, "ferretdb": 27018, "placement": 50005, "scheduler": 50006}
CHUNK = 10_000
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (and of its children it waited for), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def ferretdb_pid() -> int | None:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"ferretdb"):
                return int(proc.name)
    return None


async def seed(database: str, tenant_id: str, n_events: int, n_items: int, n_users: int) -> dict[str, Any]:
    """Writes the synthetic tenant into `database` through the repositories; returns counts and seconds."""
    started = time.perf_counter()
    data = synthetic_tenant(n_events, n_items, n_users, seed=0)
    events = data.events
    events["timestamp"] += time.time() - 86_400 - float(events["timestamp"].max())  # within any retention
    generated = time.perf_counter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    db = client[database]
    try:
        archive = EventArchive(db, retention_days=36_500)
        await archive.ensure_indexes()
        columns = zip(events["user_id"], events["item_id"], events["timestamp"], strict=True)
        batch: list[Event] = []
        for n, (user, item, ts) in enumerate(columns):
            batch.append(Event(tenant_id=tenant_id, event_id=f"e{n}", user_id=user, item_id=item, type="click",
                               timestamp=float(ts)))  # fmt: skip
            if len(batch) == CHUNK:
                await archive.append_many(batch)
                batch = []
        await archive.append_many(batch)
        archived = time.perf_counter()
        items = ItemRepository(db)
        await items.ensure_indexes()
        rows = [(i["item_id"], {k: v for k, v in i.items() if k != "item_id"}) for i in data.items]
        for start in range(0, len(rows), CHUNK):
            await items.upsert_many(tenant_id, rows[start : start + CHUNK])
        cataloged = time.perf_counter()
        users = UserRepository(db)
        await users.ensure_indexes()
        # Users as the event path first records them (no attributes: the generated cohort carries no signal), in
        # bulk: one upsert at a time ran at about 60 users a second on FerretDB over SQLite.
        ids = [u["user_id"] for u in data.users]
        for start in range(0, len(ids), CHUNK):
            await users.ensure_many(tenant_id, ids[start : start + CHUNK])
    finally:
        await client.close()
    return {
        "events": len(events),
        "items": len(data.items),
        "users": len(data.users),
        "seconds": {
            "generate": round(generated - started, 1),
            "events": round(archived - generated, 1),
            "items": round(cataloged - archived, 1),
            "users": round(time.perf_counter() - cataloged, 1),
        },
    }


async def drop(database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    try:
        await client.drop_database(database)
    finally:
        await client.close()


def follow(trainer: App, tenant_id: str, options: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Starts a run through the trainer's sidecar and polls it to the end; returns the run, its wall time, what
    was first seen when, and the trainer's CPU seconds and peak memory over the run."""
    assert trainer._app is not None and trainer._daprd is not None
    pid, sidecar_pid, ferret = trainer._app.pid, trainer._daprd.pid, ferretdb_pid()
    base = f"{trainer.sidecar}/v1.0/invoke/{trainer.app_id}/method/tenants/{tenant_id}/runs"
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM: the peak from here on
    cpu = {"trainer": cpu_seconds(pid), "trainer sidecar": cpu_seconds(sidecar_pid)}
    if ferret is not None:
        cpu["ferretdb"] = cpu_seconds(ferret)
    load = [os.getloadavg()]
    deadline = time.monotonic() + 120
    while True:  # a restarted trainer answers 500 until its sidecar has placed the workflow actors again
        started = time.monotonic()
        resp = httpx.post(base, json=options, headers=trainer.headers, timeout=60)
        if resp.status_code < 500 or started > deadline:
            break
        time.sleep(1.0)
    resp.raise_for_status()
    run_id = resp.json()["run_id"]
    seen: dict[str, float] = {}
    step_rss: dict[str, int] = {}  # the largest RSS polled while each step was the current one
    rss_peak = 0
    with httpx.Client(headers=trainer.headers, timeout=30) as http:
        while True:
            run = http.get(f"{base}/{run_id}").json()
            now = round(time.monotonic() - started, 1)
            rss = status_kb(pid, "VmRSS")
            rss_peak = max(rss_peak, rss)
            progress = run.get("progress") or {}
            step = str(progress.get("step") or "start")
            step_rss[step] = max(step_rss.get(step, 0), rss)
            stages = [f"{kind} {stage}" for kind, stage in progress.get("models", {}).items() if stage != "pending"]
            for name in ([f"step {progress['step']}"] if progress.get("step") else []) + stages:
                seen.setdefault(name, now)
            if run.get("status") in {"COMPLETED", "FAILED", "TERMINATED"} or now > timeout_s:
                break
            time.sleep(0.5)
    wall = time.monotonic() - started
    load.append(os.getloadavg())
    used = {"trainer": cpu_seconds(pid), "trainer sidecar": cpu_seconds(sidecar_pid)}
    if ferret is not None:
        used["ferretdb"] = cpu_seconds(ferret)
    return {
        "run_id": run_id,
        "run": run,
        "wall_seconds": round(wall, 1),
        "first_seen": seen,
        "cpu_seconds": {k: round(used[k] - cpu[k], 1) for k in cpu},
        "peak_rss_gb": round(max(status_kb(pid, "VmHWM"), rss_peak) / 2**20, 2),
        "polled_rss_gb": {step: round(kb / 2**20, 2) for step, kb in step_rss.items()},
        "load_average": [[round(x, 2) for x in la] for la in load],
    }


def report(result: dict[str, Any]) -> str:
    out = result["run"].get("output") or {}
    t = out.get("timings") or {}
    lines = [
        f"seeded {result['seeded']['events']} events, {result['seeded']['items']} items, "
        f"{result['seeded']['users']} users in {result['seeded']['seconds']} s (setup, not measured)",
        f"run {result['run_id']}: {result['run'].get('status')} in {result['wall_seconds']} s",
    ]
    if t:
        lines.append(f"  export {t['export']:.1f} s ({out['exported']['interactions']} interactions), "
                     f"features {t['features']:.1f} s, index {t['index']:.1f} s"
                     + (f", content texts embedded beside the export {t['content_ahead']:.1f} s"
                        if "content_ahead" in t else ""))  # fmt: skip
        for kind in sorted(t["train"], key=lambda k: -t["train"][k]):
            m = out["models"][kind]
            metric = m["metrics"].get("pipeline_ndcg@10", m["metrics"].get("ndcg@10", 0.0))
            lines.append(
                f"  {kind:<10} train {t['train'][kind]:7.1f} s  evaluate {t['evaluate'].get(kind, 0.0):7.1f} s  "
                f"ndcg@10 {metric:.4f}  {'active' if m['activated'] else 'not active'}"
                f"{'' if not m.get('serves') else ', serves ' + m['serves']}"
            )
    lines.append("  first seen (s from the start): " + ", ".join(f"{k} {v}" for k, v in result["first_seen"].items()))
    lines.append(f"  largest RSS polled per step (GB): {result.get('polled_rss_gb', {})}")
    lines.append(f"  CPU seconds {result['cpu_seconds']}, trainer peak RSS {result['peak_rss_gb']} GB, "
                 f"load average {result['load_average']}")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--evaluation-users", type=int, default=None, help="the run's evaluation sample")
    parser.add_argument("--kinds", default="", help="comma-separated model kinds (default: all)")
    parser.add_argument("--timeout", type=float, default=3_600.0, help="seconds to follow the run")
    parser.add_argument("--json", type=Path, help="also write the whole result here")
    parser.add_argument(
        "--retrain", action="store_true", help="then restart the trainer app and train the same tenant again"
    )
    args = parser.parse_args()
    down = [f"{name} (127.0.0.1:{port})" for name, port in INFRA.items() if not port_open(port)]
    if down:
        raise SystemExit(f"not running: {', '.join(down)} (bash scripts/infra.sh up kafka)")
    suffix = uuid.uuid4().hex[:8]
    database, tenant_id = f"lemo_bench_train_{suffix}", f"bench{suffix}"
    artifacts = Path(tempfile.mkdtemp(prefix="lemo-bench-train-"))
    trainer: App | None = None
    result: dict[str, Any] = {}
    try:
        result["seeded"] = asyncio.run(seed(database, tenant_id, args.events, args.items, args.users))
        print(f"seeded {result['seeded']}", file=sys.stderr, flush=True)
        env = {
            "LEMO_MONGODB_URI": MONGODB_URI,
            "LEMO_MONGODB_DATABASE": database,
            "LEMO_ARTIFACT_URI": str(artifacts),
            "LEMO_LOG_LEVEL": "INFO",
            "INGEST_ENABLED": "false",
        }
        trainer = App(f"bench-trainer-{suffix}", uvicorn("apps.trainer.main"), env=env).start()
        options: dict[str, Any] = {} if args.evaluation_users is None else {"evaluation_users": args.evaluation_users}
        if args.kinds:
            options["kinds"] = args.kinds.split(",")
        result |= follow(trainer, tenant_id, options, args.timeout)
        print(report(result), file=sys.stderr, flush=True)
        if args.retrain:  # a new trainer process: nothing in memory, the text vectors and the snapshot on disk
            trainer.restart_app()
            result["retrain"] = follow(trainer, tenant_id, options, args.timeout)
        result["artifacts_gb"] = round(sum(f.stat().st_size for f in artifacts.rglob("*") if f.is_file()) / 2**30, 2)
        for run_id in [result["run_id"], *([result["retrain"]["run_id"]] if "retrain" in result else [])]:
            url = f"{trainer.sidecar}/v1.0-beta1/workflows/dapr/{run_id}/purge"  # out of the shared state store
            httpx.post(url, headers=trainer.headers, timeout=60)
    finally:
        if trainer is not None:
            trainer.stop()
        asyncio.run(drop(database))
        shutil.rmtree(artifacts, ignore_errors=True)
    print(report(result))
    if "retrain" in result:
        print("retrain in a new trainer process:\n" + report({**result["retrain"], "seeded": result["seeded"]}))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    runs = [result["run"]] + ([result["retrain"]["run"]] if "retrain" in result else [])
    return 0 if all(run.get("status") == "COMPLETED" for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
