"""lemo/models/loaded_models.py: activities that hold a recall model at once share one copy; none is kept after."""

from __future__ import annotations

import gc
from pathlib import Path

from lemo.models import loaded_models, train_model
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
