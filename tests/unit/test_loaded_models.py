"""lemo/models/loaded_models.py: activities that hold a recall model at once share one copy; none is kept after."""

from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lemo.models import loaded_models, train_model
from lemo.models.factory import load_model
from lemo.models.loaded_models import release_memory, shared_recall_model
from tests.unit.synthetic_data import planted


def test_a_recall_model_is_loaded_once_while_held_and_dropped_after(tmp_path: Path) -> None:
    train_model("popular", planted(), None, seed=1, device="cpu").save(tmp_path)
    first = shared_recall_model("popular", tmp_path)
    assert shared_recall_model("popular", tmp_path) is first
    del first
    gc.collect()
    assert tmp_path not in loaded_models._loaded  # nobody holds it: not kept
    assert shared_recall_model("popular", tmp_path).kind == "popular"
    release_memory()


def test_different_models_load_at_once_and_one_model_loads_once(tmp_path: Path, monkeypatch: Any) -> None:
    """A slow load of one artifact does not hold up another's; callers asking for the same artifact share one load."""
    for name in ("a", "b"):
        train_model("popular", planted(), None, seed=1, device="cpu").save(tmp_path / name)
    release_a = threading.Event()
    loads: list[str] = []

    def load(kind: str, directory: Path) -> Any:
        loads.append(directory.name)
        if directory.name == "a":
            assert release_a.wait(10)
        return load_model(kind, directory)

    monkeypatch.setattr(loaded_models, "load_model", load)
    with ThreadPoolExecutor(3) as pool:
        first_a = pool.submit(shared_recall_model, "popular", tmp_path / "a")
        while loads != ["a"]:
            time.sleep(0.01)
        second_a = pool.submit(shared_recall_model, "popular", tmp_path / "a")
        b = pool.submit(shared_recall_model, "popular", tmp_path / "b").result(timeout=10)  # while a still loads
        assert b.kind == "popular" and not first_a.done()
        release_a.set()
        assert first_a.result(timeout=10) is second_a.result(timeout=10)
    assert sorted(loads) == ["a", "b"]
    assert not loaded_models._loading
