"""The train workflow's steps in one process on a seeded synthetic tenant (`lemo bench train --local`): the same
functions the trainer's activities call (export files, run data and split, each model's training, holdout
evaluation, the ranker guard, item vectors into a Milvus Lite file), run one after another so each step's
time and peak memory are its own. What it leaves out: reading the archive from MongoDB (the export is written
from the generated events), and registering, activating and announcing versions (a few documents and events).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lemo import models
from lemo.datasets.synthetic import tenant
from lemo.evaluation.protocol import evaluate_trained
from lemo.registry import ranker_guard
from lemo.training import load_run_data, write_export, write_item_vectors

VECTOR_KINDS = ("two_tower", "content")


def rss_bytes() -> int:
    """The process's resident memory now (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class StepClock:
    """Seconds and peak resident memory per named step; a sampler thread reads RSS every `interval_s`."""

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
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            stop.set()
            sampler.join()
            peak = max(self._peak, rss_bytes())
            self.steps.append({"step": name, "seconds": round(seconds, 2), "peak_gb": round(peak / 2**30, 2)})
            print(f"{name:<32} {seconds:8.2f} s  {peak / 2**30:6.2f} GB", file=sys.stderr, flush=True)


def bench_local(
    n_events: int,
    n_items: int,
    n_users: int,
    kinds: list[str] | None = None,
    seed: int = 0,
    workdir: Path | None = None,
) -> dict[str, Any]:
    kinds = kinds or list(models.MODEL_KINDS)
    clock = StepClock()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        run_dir = Path(tmp)
        with clock.step("generate (not a workflow step)"):
            data = tenant(n_events, n_items, n_users, seed=seed)
        with clock.step("export (files)"):
            write_export(run_dir, data.events, data.items, data.users)
            del data
        with clock.step("features"):
            run = load_run_data(run_dir, 0.1, 42)
        trained: dict[str, Any] = {}
        for kind in [k for k in kinds if k in models.RECALL_KINDS]:
            with clock.step(f"train {kind}"):
                model = models.train_model(kind, run.train, seed=42)
                model.save(run_dir / "models" / kind)
            trained[kind] = model
        recall = {k: m for k, m in trained.items() if k in models.FUSED_CHANNELS}
        for kind in [k for k in kinds if k in models.RANKER_KINDS]:
            with clock.step(f"train {kind}"):
                ranker = models.train_model(kind, run.train, seed=42, recall=recall)
                ranker.save(run_dir / "models" / kind)
            trained[kind] = ranker
        metrics: dict[str, dict[str, float]] = {}
        for kind, model in trained.items():
            with clock.step(f"evaluate {kind}"):
                metrics[kind] = evaluate_trained(model, recall, run.train, run.holdout)
        guards = {
            kind: ranker_guard(metrics[kind], {c: metrics[c] for c in trained if c in models.RECALL_KINDS}).reason
            for kind in trained
            if kind in models.RANKER_KINDS
        }
        with clock.step("index vectors"):
            for kind in [k for k in VECTOR_KINDS if k in trained]:
                item_ids, vectors = trained[kind].item_vectors()
                write_item_vectors(str(run_dir / "vectors.db"), f"items_{kind}", "bench", item_ids, vectors)
    return {
        "events": n_events,
        "items": n_items,
        "users": n_users,
        "train_pairs": len(run.train.rows),
        "steps": clock.steps,
        "workflow_seconds": round(sum(s["seconds"] for s in clock.steps[1:]), 1),
        "peak_gb": max(s["peak_gb"] for s in clock.steps),
        "metrics": metrics,
        "guard": guards,
        "notes": {k: m.params.get("note", "") for k, m in trained.items()},
    }


def table(result: dict[str, Any]) -> str:
    lines = [f"{s['step']:<32} {s['seconds']:8.2f} s  {s['peak_gb']:6.2f} GB" for s in result["steps"]]
    lines.append(
        f"{'workflow steps, total':<32} {result['workflow_seconds']:8.1f} s  {result['peak_gb']:6.2f} GB peak   "
        f"({result['events']:,} events, {result['items']:,} items, {result['users']:,} users)"
    )
    for kind, m in result["metrics"].items():
        ndcg = m.get("ndcg@10", m.get("pipeline_ndcg@10"))
        lines.append(f"{kind:<12} ndcg@10 {ndcg if ndcg is None else round(ndcg, 4)}  auc {m.get('auc', '')}")
    for kind, reason in result["guard"].items():
        lines.append(f"guard {kind}: {reason}")
    return "\n".join(lines)
