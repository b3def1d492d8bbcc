"""scripts/bench-train-mesh.py: the process figures it reports (CPU seconds, memory from /proc) and its summary of
a run. The run itself needs the infra and a trainer sidecar: the script is run by hand (docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_train_mesh", ROOT / "scripts" / "bench-train-mesh.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_train_mesh"] = module
    spec.loader.exec_module(module)
    return module


def test_cpu_seconds_and_memory_come_from_proc() -> None:
    bench = _load()
    before = bench.cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert bench.cpu_seconds(os.getpid()) - before >= 0.2
    assert bench.status_kb(os.getpid(), "VmHWM") >= bench.status_kb(os.getpid(), "VmRSS") > 0


def test_report_names_every_model_with_its_step_times() -> None:
    bench = _load()
    models = {
        "ease": {"metrics": {"ndcg@10": 0.13}, "activated": True},
        "fusion": {"metrics": {"pipeline_ndcg@10": 0.12, "auc": 0.8}, "activated": True, "serves": "ease"},
    }
    result = {
        "seeded": {"events": 100, "items": 10, "users": 5, "seconds": {"events": 0.1}},
        "run_id": "r1",
        "run": {
            "status": "COMPLETED",
            "output": {
                "exported": {"interactions": 100},
                "models": models,
                "timings": {
                    "export": 1.0,
                    "features": 0.5,
                    "index": 2.0,
                    "train": {"ease": 3.0, "fusion": 4.0},
                    "evaluate": {"ease": 1.0, "fusion": 2.0},
                },
            },
        },
        "wall_seconds": 9.5,
        "first_seen": {"step train": 1.5},
        "cpu_seconds": {"trainer": 12.0},
        "peak_rss_gb": 1.5,
        "load_average": [[1.0, 1.0, 1.0]],
    }
    text = bench.report(result)
    assert "COMPLETED in 9.5 s" in text and "export 1.0 s (100 interactions)" in text
    assert "fusion     train     4.0 s  evaluate     2.0 s  ndcg@10 0.1200  active, serves ease" in text
    assert "peak RSS 1.5 GB" in text
