"""The train workflow's steps in one process on a seeded synthetic tenant (`lemo bench train --local`): the same
functions the trainer's activities call (export files, run data and split, each model's training, holdout
evaluation, the ranker guard, item vectors into a Milvus Lite file), run one after another so each step's
time and peak memory are its own, or (`concurrent`) scheduled as the workflow schedules them, on threads of one
process as the trainer's workflow worker runs activities, for the run's wall time. What it leaves out: reading
the archive from MongoDB (the export is written from the generated events), and registering, activating and
announcing versions (a few documents and events).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from lemo import models
from lemo.datasets.synthetic import tenant
from lemo.evaluation.protocol import EVALUATION_USERS, evaluate_trained
from lemo.registry import ranker_guard
from lemo.run_data import RunData, load_run_data, write_export, write_item_vectors

VECTOR_KINDS = ("two_tower", "content")


def rss_bytes() -> int:
    """The process's resident memory now (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class StepClock:
    """Seconds, CPU seconds of the process and peak resident memory per named step; a sampler thread reads RSS
    every `interval_s`. CPU seconds do not depend on what else runs on the machine, wall seconds do."""

    interval_s: float = 0.1
    steps: list[dict[str, Any]] = field(default_factory=list)
    _peak: int = 0

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self._peak = rss_bytes()
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(self.interval_s):
                self._peak = max(self._peak, rss_bytes())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            stop.set()
            sampler.join()
            peak = max(self._peak, rss_bytes())
            self.steps.append(
                {"step": name, "seconds": round(seconds, 2), "cpu_s": round(cpu, 1), "peak_gb": round(peak / 2**30, 2)}
            )
            print(f"{name:<40} {seconds:8.2f} s {cpu:7.1f} cpu-s {peak / 2**30:6.2f} GB", file=sys.stderr, flush=True)


# The trainer's workflow worker runs sync activities on a thread pool of cpu_count + 4 threads (the Dapr SDK's
# default), in one process: concurrent steps share its cores and memory as threads here do.
WORKFLOW_WORKERS = (os.cpu_count() or 1) + 4


def bench_local(
    n_events: int,
    n_items: int,
    n_users: int,
    kinds: list[str] | None = None,
    seed: int = 0,
    workdir: Path | None = None,
    concurrent: bool = False,
    evaluation_users: int = EVALUATION_USERS,
) -> dict[str, Any]:
    """Steps one after another (each with its own time and peak memory), or with `concurrent` as the workflow
    schedules them (recall models fanned out, rankers once the fused channels are trained, evaluations fanned
    out; `WORKFLOW_WORKERS` threads): then the wall time is the run's, and peak memory is the whole run's."""
    kinds = kinds or list(models.MODEL_KINDS)
    clock = StepClock()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        run_dir = Path(tmp)
        with clock.step("generate (not a workflow step)"):
            data = tenant(n_events, n_items, n_users, seed=seed)
        started, load = time.perf_counter(), [os.getloadavg()[0]]
        with clock.step("export (files)"):
            write_export(run_dir, data.events, data.items, data.users)
            del data
        with clock.step("features"):
            run = load_run_data(run_dir, 0.1, 42)
        steps = _Steps(run, run_dir, kinds, evaluation_users)
        if concurrent:
            with clock.step("train, evaluate, index (as the workflow runs them)"):
                steps.run_concurrently(WORKFLOW_WORKERS)
        else:
            steps.run_in_order(clock)
        wall = time.perf_counter() - started
        load.append(os.getloadavg()[0])
    trained, metrics = steps.trained, steps.metrics
    guards = {
        kind: ranker_guard(metrics[kind], {c: metrics[c] for c in trained if c in models.RECALL_KINDS}).reason
        for kind in trained
        if kind in models.RANKER_KINDS
    }
    return {
        "events": n_events,
        "items": n_items,
        "users": n_users,
        "train_pairs": len(run.train.rows),
        "mode": "concurrent" if concurrent else "one step at a time",
        "steps": clock.steps + steps.overlapping,
        "workflow_seconds": round(sum(s["seconds"] for s in clock.steps[1:]), 1),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(sum(s["cpu_s"] for s in clock.steps[1:]), 1),
        "load_average": [round(x, 1) for x in load],  # the machine's 1-minute load at the start and the end
        "peak_gb": max(s["peak_gb"] for s in clock.steps),
        "metrics": metrics,
        "guard": guards,
        "notes": {k: m.params.get("note", "") for k, m in trained.items()},
    }


class _Steps:
    """The workflow's steps after features, over one run's data: train every kind, evaluate, index vectors."""

    def __init__(self, run: RunData, run_dir: Path, kinds: list[str], evaluation_users: int) -> None:
        self.run, self.run_dir, self.kinds, self.evaluation_users = run, run_dir, kinds, evaluation_users
        self.trained: dict[str, Any] = {}
        self.metrics: dict[str, dict[str, float]] = {}
        self.overlapping: list[dict[str, Any]] = []  # concurrent steps: seconds each, inside the run's wall time
        self._lock = threading.Lock()

    @property
    def recall_kinds(self) -> list[str]:
        return [k for k in self.kinds if k in models.RECALL_KINDS]

    @property
    def ranker_kinds(self) -> list[str]:
        return [k for k in self.kinds if k in models.RANKER_KINDS]

    def fused(self) -> dict[str, Any]:
        return {k: m for k, m in self.trained.items() if k in models.FUSED_CHANNELS}

    def train(self, kind: str) -> None:
        recall = self.fused() if kind in models.RANKER_KINDS else None
        model = models.train_model(kind, self.run.train, seed=42, recall=recall)
        model.save(self.run_dir / "models" / kind)
        with self._lock:
            self.trained[kind] = model

    def evaluate(self, kind: str) -> None:
        model, holdout = self.trained[kind], self.run.holdout
        result = evaluate_trained(model, self.fused(), self.run.train, holdout, max_users=self.evaluation_users)
        with self._lock:
            self.metrics[kind] = result

    def index(self) -> None:
        for kind in [k for k in VECTOR_KINDS if k in self.trained]:
            item_ids, vectors = self.trained[kind].item_vectors()
            write_item_vectors(str(self.run_dir / "vectors.db"), f"items_{kind}", "bench", item_ids, vectors)

    def run_in_order(self, clock: StepClock) -> None:
        for kind in [*self.recall_kinds, *self.ranker_kinds]:
            with clock.step(f"train {kind}"):
                self.train(kind)
        for kind in list(self.trained):
            with clock.step(f"evaluate {kind}"):
                self.evaluate(kind)
        with clock.step("index vectors"):
            self.index()

    def _timed(self, name: str, step: Callable[[], None], origin: float) -> None:
        started = time.perf_counter()
        step()
        ended = time.perf_counter()
        entry = {"step": f"  {name} (overlapping)", "seconds": round(ended - started, 2), "cpu_s": 0.0, "peak_gb": 0.0}
        entry["from_s"], entry["to_s"] = round(started - origin, 1), round(ended - origin, 1)
        with self._lock:
            self.overlapping.append(entry)
        print(f"{entry['step']:<40} {entry['seconds']:8.2f} s  ({entry['from_s']}-{entry['to_s']} s)", file=sys.stderr)

    def run_concurrently(self, workers: int) -> None:
        origin = time.perf_counter()
        with ThreadPoolExecutor(workers, thread_name_prefix="activity") as pool:

            def submit(name: str, step: Callable[[], None]) -> Future[None]:
                return pool.submit(self._timed, name, step, origin)

            pending = {k: submit(f"train {k}", partial(self.train, k)) for k in self.recall_kinds}
            fused = [pending[k] for k in pending if k in models.FUSED_CHANNELS]
            for future in fused:
                future.result()
            rankers = [submit(f"train {k}", partial(self.train, k)) for k in self.ranker_kinds]
            for future in [*pending.values(), *rankers]:
                future.result()
            evaluations = [submit(f"evaluate {k}", partial(self.evaluate, k)) for k in list(self.trained)]
            for future in [*evaluations, submit("index vectors", self.index)]:  # indexing runs beside them
                future.result()


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{s['step']:<40} {s['seconds']:8.2f} s {s['cpu_s'] or '':>7} cpu-s {s['peak_gb'] or '':>6} GB"
        for s in result["steps"]
    ]
    size = f"({result['events']:,} events, {result['items']:,} items, {result['users']:,} users)"
    lines.append(
        f"{'workflow steps, sum':<40} {result['workflow_seconds']:8.1f} s {result['cpu_seconds']:7.1f} cpu-s "
        f"{result['peak_gb']:6.2f} GB peak"
    )
    lines.append(f"{'workflow wall time, ' + result['mode']:<40} {result['wall_seconds']:8.1f} s   {size}")
    lines.append(f"load average (1 min) at start, end: {result['load_average']} on {os.cpu_count()} cores")
    for kind, m in result["metrics"].items():
        ndcg = m.get("ndcg@10", m.get("pipeline_ndcg@10"))
        lines.append(f"{kind:<12} ndcg@10 {ndcg if ndcg is None else round(ndcg, 4)}  auc {m.get('auc', '')}")
    for kind, reason in result["guard"].items():
        lines.append(f"guard {kind}: {reason}")
    return "\n".join(lines)
