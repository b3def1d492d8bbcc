"""The active model version per (tenant, kind), hot-reloaded without a restart, and each tenant's stored user
histories from its active training run.

A version is loaded on first use, when a `models` event names a version other than the one served, and when the
registry says so at a re-check (at most every `recheck_s`, so a missed event heals). Loading runs in a worker
thread while the previous version keeps serving; requests for other tenants never wait on it. Only the first
load of a (tenant, kind) is awaited by a request, and the caller bounds that wait with its deadline.

This process is the one that opens Milvus Lite files (a file serves one process at a time): a version's
collection is opened when the version loads and the file is released once no served version uses it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from apps.shared.tuning import freeze_loaded
from lemo.artifacts import ArtifactStore
from lemo.models import EVENT_WEIGHTS, RECALL_KINDS, RecallModel, load_model
from lemo.models.data import NEGATIVE_TYPES
from lemo.models.linear import Popular
from lemo.registry import ModelVersion
from lemo.run_data import INTERACTIONS_FILE
from lemo.stores.ports import ServedModels, VectorOpener, VectorSearch

logger = logging.getLogger(__name__)

VECTOR_KINDS = ("two_tower", "content")
# A replaced version's Milvus collection stays open this long for searches still in flight.
RETIRE_GRACE_S = 10.0
# A load that failed (a file being written, a store down) is tried again after this long.
RETRY_S = 5.0

T = TypeVar("T")


@dataclass(eq=False)
class Served:
    """One loaded model version and what serving it needs besides the model."""

    version: ModelVersion
    model: RecallModel
    index: VectorSearch | None = None
    location: str | None = None  # the Milvus file or server holding `index`'s collection
    item_ids: list[str] = field(default_factory=list)
    item_index: dict[str, int] = field(default_factory=dict)
    vectors: np.ndarray | None = None  # unit item vectors [n, dim] aligned with item_ids (vector kinds)
    exact: bool = False  # search `vectors` in memory even though `index` is open (a small collection)
    popularity: dict[str, float] = field(default_factory=dict)  # the popular model's scores
    ranked: list[tuple[str, float]] = field(default_factory=list)  # the popular model's list, best first

    def vector_of(self, item_id: str) -> np.ndarray | None:
        n = self.item_index.get(item_id)
        return None if n is None or self.vectors is None else self.vectors[n]


@dataclass(frozen=True)
class Histories:
    """Users' stored histories from one run's export: positives newest first, and what they disliked."""

    run_id: str
    positives: Mapping[str, tuple[str, ...]]
    negatives: Mapping[str, tuple[str, ...]]

    def seen(self, user_id: str) -> tuple[str, ...]:
        return self.positives.get(user_id, ()) + self.negatives.get(user_id, ())


@dataclass(eq=False)
class _Slot(Generic[T]):
    value: T | None = None
    checked_at: float = float("-inf")
    task: asyncio.Task[None] | None = None
    again: bool = False  # an event arrived while refreshing: refresh once more
    error: str | None = None


class _Refreshing(Generic[T]):
    """Slots refreshed in the background, at most one refresh per slot at a time."""

    def __init__(self, recheck_s: float) -> None:
        self._recheck_s = recheck_s
        self.slots: dict[Any, _Slot[T]] = {}

    async def get(self, key: Any, refresh: Callable[[_Slot[T]], Awaitable[None]]) -> _Slot[T]:
        slot = self.slots.setdefault(key, _Slot())
        if time.monotonic() - slot.checked_at > self._recheck_s:
            self.kick(slot, refresh)
        if slot.value is None and slot.task is not None:
            await asyncio.shield(slot.task)
        return slot

    def kick(self, slot: _Slot[T], refresh: Callable[[_Slot[T]], Awaitable[None]]) -> None:
        if slot.task is not None:
            slot.again = True
            return

        async def run() -> None:
            try:
                while True:
                    slot.again = False
                    try:
                        await refresh(slot)
                        slot.error = None
                        slot.checked_at = time.monotonic()
                    except Exception as exc:
                        logger.exception("refresh failed")
                        slot.error = f"load failed: {exc}"
                        # Retried after RETRY_S rather than a whole re-check interval.
                        slot.checked_at = time.monotonic() - self._recheck_s + min(RETRY_S, self._recheck_s)
                    if not slot.again:
                        return
            finally:
                slot.task = None

        slot.task = asyncio.create_task(run())


class ModelCache:
    def __init__(
        self,
        registry: ServedModels,
        artifacts: ArtifactStore,
        loader: Executor,
        recheck_s: float,
        *,
        open_vectors: VectorOpener,
        exact_search_max_items: int = 0,
    ) -> None:
        self._registry = registry
        self._open_vectors = open_vectors
        self._exact_max = exact_search_max_items
        self._artifacts = artifacts
        # Loads run one at a time on their own thread: never in the request workers' way, and never so many at
        # once that the GIL starves the event loop (and with it the sidecar's health probe).
        self._executor = loader
        self._models: _Refreshing[Served] = _Refreshing(recheck_s)
        self._warming: set[asyncio.Future[Any]] = set()
        self._histories: _Refreshing[Histories] = _Refreshing(recheck_s)
        # Milvus location -> the open indexes of served versions, and of retired ones still waiting to close.
        self._files: dict[str, list[VectorSearch]] = {}
        self._retired: dict[str, list[VectorSearch]] = {}
        self._files_lock = threading.Lock()

    # --- models ---------------------------------------------------------------------------------------------------

    async def model(self, tenant_id: str, kind: str) -> Served | None:
        slot = await self._models.get((tenant_id, kind), self._model_refresher(tenant_id, kind))
        return slot.value

    def model_error(self, tenant_id: str, kind: str) -> str | None:
        slot = self._models.slots.get((tenant_id, kind))
        return slot.error if slot is not None else None

    def warm(self, tenant_id: str, kind: str) -> None:
        """Starts loading the active version of (tenant, kind) and the tenant's histories in the background."""
        for coroutine in (self.model(tenant_id, kind), self.histories(tenant_id)):
            warming = asyncio.ensure_future(coroutine)
            self._warming.add(warming)  # a reference until done, so the task is not collected mid-way
            warming.add_done_callback(self._warming.discard)

    async def preload(self, limit: int) -> int:
        """Warms the most recently activated versions of every tenant at start-up, so a restarted replica serves
        from models at once instead of failing its first requests' deadlines. Returns how many it queued."""
        versions = [v for v in await self._registry.active_versions(limit) if v.kind in RECALL_KINDS]
        for version in versions:
            self.warm(version.tenant_id, version.kind)
        logger.info("warming %d active model versions", len(versions))
        return len(versions)

    def served(self, tenant_id: str, kind: str) -> Served | None:
        """The loaded version, without waiting for one; when none is loaded, a load starts in the background."""
        slot = self._models.slots.get((tenant_id, kind))
        if slot is None or slot.value is None:
            warming = asyncio.ensure_future(self.model(tenant_id, kind))
            self._warming.add(warming)  # a reference until done, so the task is not collected mid-way
            warming.add_done_callback(self._warming.discard)
            return None
        return slot.value

    def on_activated(self, tenant_id: str, kind: str, version: int | None, run_id: str | None) -> bool:
        """A `models` event: reloads that tenant and kind unless it already serves `version`. Returns whether a
        reload was started (a redelivered or stale event is a no-op, and so is one for a tenant and kind this
        process has not been asked for: its first request reads the registry)."""
        if kind not in RECALL_KINDS:
            return False
        started = False
        slot = self._models.slots.get((tenant_id, kind))
        if slot is None:  # a tenant or kind not served yet (a new tenant's first training): warm it now
            self.warm(tenant_id, kind)
            return True
        if slot.value is None or slot.value.version.version != version:
            self._models.kick(slot, self._model_refresher(tenant_id, kind))
            started = True
        history = self._histories.slots.get(tenant_id)
        if history is not None and (history.value is None or history.value.run_id != run_id):
            self._histories.kick(history, self._history_refresher(tenant_id))
        return started

    def _model_refresher(self, tenant_id: str, kind: str) -> Callable[[_Slot[Served]], Awaitable[None]]:
        async def refresh(slot: _Slot[Served]) -> None:
            active = await self._registry.active(tenant_id, kind)
            current = slot.value
            if active is None:
                slot.value = None
            elif current is None or (current.version.version, current.version.run_id) != (
                active.version,
                active.run_id,
            ):
                loop = asyncio.get_running_loop()
                started = time.perf_counter()
                slot.value = await loop.run_in_executor(self._executor, self._load, active)
                logger.info(
                    "serving %s v%d (run %s), loaded in %.0f ms",
                    kind,
                    active.version,
                    active.run_id,
                    (time.perf_counter() - started) * 1000,
                    extra={"tenant_id": tenant_id},
                )
            if current is not None and current is not slot.value:
                asyncio.get_running_loop().call_later(RETIRE_GRACE_S, self._retire, current)

        return refresh

    def _load(self, version: ModelVersion) -> Served:
        model = load_model(version.kind, self._artifacts.path(version.artifact_uri))
        assert isinstance(model, RecallModel)
        served = Served(version=version, model=model)
        if isinstance(model, Popular):
            served.popularity = dict(zip(model.item_ids, model.popularity.tolist(), strict=True))
            served.ranked = sorted(served.popularity.items(), key=lambda p: (-p[1], p[0]))
        if version.kind in VECTOR_KINDS:
            ids, vectors = model.item_vectors()  # type: ignore[attr-defined]
            served.item_ids, served.item_index = list(ids), {i: n for n, i in enumerate(ids)}
            served.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            served.exact = len(served.item_ids) <= self._exact_max
            if version.vectors_uri and "#" in version.vectors_uri:
                self._open_index(served, version.vectors_uri)
        freeze_loaded()
        return served

    def _open_index(self, served: Served, vectors_uri: str) -> None:
        """Opens the version's Milvus collection. A collection that cannot be opened (its file pruned, say) leaves
        the version serving from its in-memory vectors: the same exact inner-product search, without Milvus."""
        location, _, collection = vectors_uri.rpartition("#")
        try:
            if not location.startswith(("http://", "https://")):
                location = str(self._artifacts.path(location))
            # Under the lock: two threads starting Milvus Lite on one file at once both try to lock it.
            with self._files_lock:
                assert served.vectors is not None
                index = self._open_vectors(location, collection, int(served.vectors.shape[1]))
                self._files.setdefault(location, []).append(index)
            served.index, served.location = index, location
            index.load()
        except Exception:
            logger.exception(
                "cannot open %s; %s v%d searches in memory", vectors_uri, served.version.kind, served.version.version
            )
            if served.index is not None:
                self._retire(served)
            served.index = served.location = None

    def _retire(self, served: Served) -> None:
        """Closes a replaced version's collection once no served version uses its Milvus file (closing one client
        of a Milvus Lite file stops the file's server for every client in this process)."""
        if served.index is None or served.location is None:
            return
        with self._files_lock:
            users = self._files.get(served.location, [])
            if served.index in users:
                users.remove(served.index)
            retired = self._retired.setdefault(served.location, [])
            retired.append(served.index)
            if users:
                return
            self._files.pop(served.location, None)
            closing = self._retired.pop(served.location)
        for index in closing:
            self._executor.submit(index.close)

    def close(self) -> None:
        for slot in self._models.slots.values():
            if slot.value is not None and slot.value.index is not None:
                slot.value.index.close()

    # --- histories ------------------------------------------------------------------------------------------------

    async def histories(self, tenant_id: str) -> Histories | None:
        slot = await self._histories.get(tenant_id, self._history_refresher(tenant_id))
        return slot.value

    def _history_refresher(self, tenant_id: str) -> Callable[[_Slot[Histories]], Awaitable[None]]:
        async def refresh(slot: _Slot[Histories]) -> None:
            actives = await asyncio.gather(*(self._registry.active(tenant_id, k) for k in RECALL_KINDS))
            newest = max((v for v in actives if v is not None), key=lambda v: v.activated_at or 0.0, default=None)
            if newest is None:
                slot.value = None
            elif slot.value is None or slot.value.run_id != newest.run_id:
                directory = self._artifacts.run_dir(tenant_id, newest.run_id)
                loop = asyncio.get_running_loop()
                slot.value = await loop.run_in_executor(self._executor, read_histories, directory, newest.run_id)
                logger.info(
                    "histories of %d users from run %s",
                    len(slot.value.positives),
                    newest.run_id,
                    extra={"tenant_id": tenant_id},
                )

        return refresh


def read_histories(directory: Any, run_id: str) -> Histories:
    """Per user: positive items newest first (each once), and disliked items, from a run's export."""
    frame = pd.read_parquet(directory / INTERACTIONS_FILE, columns=["user_id", "item_id", "type", "timestamp"])
    frame = frame.astype({"user_id": str, "item_id": str, "type": str})
    frame = frame.sort_values("timestamp", ascending=False, kind="stable")
    negative = frame["type"].isin(NEGATIVE_TYPES)
    positive = ~negative & (frame["type"].map(lambda t: EVENT_WEIGHTS.get(t, 1.0)) > 0)

    def grouped(rows: pd.DataFrame) -> dict[str, tuple[str, ...]]:
        rows = rows.drop_duplicates(["user_id", "item_id"])
        return {str(u): tuple(items) for u, items in rows.groupby("user_id", sort=False)["item_id"]}

    histories = Histories(run_id=run_id, positives=grouped(frame[positive]), negatives=grouped(frame[negative]))
    freeze_loaded()
    return histories
