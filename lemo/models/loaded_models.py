"""Models loaded from their artifacts once per process while they are in use, and memory handed back after a step.

The train workflow runs its activities on threads of one trainer process: four rankers trained or evaluated at
once each loaded their own copy of every fused channel (EASE's item x item matrix among them), and a channel's
evaluation one more. Here the activities that hold a recall model at the same time share one copy; it is dropped
(weak values) as soon as none holds it. Models are only scored once trained, as the rankers of one in-process
run (`lemo bench train --local`) always shared them.
"""

from __future__ import annotations

import ctypes
import gc
import threading
import weakref
from pathlib import Path

from lemo.models.base import RecallModel
from lemo.models.factory import load_model

_loaded: weakref.WeakValueDictionary[Path, RecallModel] = weakref.WeakValueDictionary()
_lock = threading.Lock()  # guards the two maps, never held while a model loads
_loading: dict[Path, threading.Lock] = {}  # one lock per artifact: different models load at the same time


def shared_recall_model(kind: str, directory: Path) -> RecallModel:
    """The recall model saved in `directory`, loaded once while any caller in this process still holds it.
    Callers that want the same artifact wait for one load; different artifacts load concurrently."""
    with _lock:
        model = _loaded.get(directory)
        if model is not None:
            return model
        loading = _loading.setdefault(directory, threading.Lock())
    with loading:
        with _lock:
            model = _loaded.get(directory)
        if model is None:
            loaded = load_model(kind, directory)
            if not isinstance(loaded, RecallModel):
                raise TypeError(f"{directory} holds a {kind!r} model, not a recall model")
            model = loaded
            with _lock:
                _loaded[directory] = model
    with _lock:
        if _loading.get(directory) is loading:
            del _loading[directory]
    return model


def release_memory() -> None:
    """Collects what a finished step dropped and hands freed heap pages back to the system, so the next steps'
    peaks do not sit on top of this one's (glibc keeps freed memory in its per-thread arenas)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
