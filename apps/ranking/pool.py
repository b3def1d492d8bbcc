"""The learned rankers this replica serves: per (tenant, kind) the active model version, loaded with the recall
channels whose scores it fuses, and kept current without a restart.

Nothing loads on a request thread. A background thread runs an asyncio loop for registry reads, and one loader
thread reads artifacts (one at a time, so a burst of reloads cannot take every core from scoring). A request
takes the version loaded now; it starts a refresh when its slot was last checked more than `refresh_s` ago, and
a model-activated event for the ranker's kind, or for one of its input channels, starts one at once (so a missed
event heals within `refresh_s`). While a refresh loads a newer version the previous one keeps serving; it is
swapped in only once fully loaded, and a failed load keeps the previous one. Only the first request for a slot
waits (up to `first_load_wait_s`) since there is nothing to serve meanwhile.

Input channels: a ranker lists in its version's `inputs` the channels it was trained to fuse (kind -> artifact).
Each is loaded from that channel's *active* version when it has one, so the ranker fuses the same model the recall
stage serves (channel features are standardised and rank-based, so they keep their meaning across retrains, and
the artifacts of active versions are never pruned); the recorded artifact is the fallback when the channel has no
active version.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from apps.shared.tuning import freeze_loaded
from lemo.artifacts import ArtifactStore
from lemo.models import RANKER_KINDS, RankerModel, RecallModel, load_model
from lemo.models.base import CatalogRecall
from lemo.models.channel_order import ChannelOrder
from lemo.registry import ModelVersion
from lemo.stores.ports import ServedModels

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (tenant_id, ranker kind)


# Builds a ranker from its version and the artifact URI of each input channel (runs on the loader thread).
Loader = Callable[[ModelVersion, Mapping[str, str]], RankerModel]


@dataclass(frozen=True)
class ServedRanker:
    kind: str
    version: int
    model: RankerModel
    # What was loaded: the ranker's artifact and each channel's; a refresh that finds the same loads nothing.
    artifacts: tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class _Slot:
    served: ServedRanker | None = None
    reason: str = "loading"  # why nothing is served (when `served` is None)
    checked_at: float | None = None  # monotonic time of the last finished refresh; None before the first
    pending: concurrent.futures.Future[None] | None = None
    again: bool = False  # an event arrived while a refresh was in flight: refresh once more after it
    channels: frozenset[str] = field(default_factory=frozenset)


class RankerPool:
    def __init__(
        self,
        registry: Callable[[], ServedModels],
        loader: Loader,
        *,
        refresh_s: float,
        first_load_wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`registry` is called on the pool's own event loop (an async Mongo client belongs to one loop)."""
        self._loader = loader
        self._refresh_s = refresh_s
        self._first_load_wait_s = first_load_wait_s
        self._clock = clock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ranker-registry", daemon=True)
        self._thread.start()
        self._registry: ServedModels = asyncio.run_coroutine_threadsafe(_made(registry), self._loop).result()
        self._load_executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ranker-load")
        self._lock = threading.Lock()
        self._slots: dict[Key, _Slot] = {}

    def get(self, tenant_id: str, kind: str) -> tuple[ServedRanker | None, str | None]:
        """The ranker serving now, or None and why not ("no active version", "loading", a load error)."""
        with self._lock:
            slot = self._slots.setdefault((tenant_id, kind), _Slot())
            now = self._clock()
            if slot.pending is None and (slot.checked_at is None or now - slot.checked_at >= self._refresh_s):
                self._schedule(tenant_id, kind, slot)
            cold, pending = slot.checked_at is None, slot.pending
        if cold and pending is not None and self._first_load_wait_s > 0:
            concurrent.futures.wait([pending], timeout=self._first_load_wait_s)
        with self._lock:
            served, reason = slot.served, slot.reason
        return served, None if served is not None else reason

    def preload(self, limit: int) -> int:
        """Loads the most recently activated rankers of every tenant in the background, so a restarted replica
        scores with models at once. Returns how many it queued."""
        if limit <= 0:
            return 0
        versions = asyncio.run_coroutine_threadsafe(self._registry.active_versions(limit), self._loop).result()
        queued = 0
        with self._lock:
            for version in versions:
                if version.kind in RANKER_KINDS and (version.tenant_id, version.kind) not in self._slots:
                    slot = self._slots.setdefault((version.tenant_id, version.kind), _Slot())
                    self._schedule(version.tenant_id, version.kind, slot)
                    queued += 1
        logger.info("warming %d active rankers", queued)
        return queued

    def on_activated(self, tenant_id: str, kind: str) -> int:
        """A version of `kind` became active for the tenant: refreshes the tenant's rankers of that kind or fed by
        that channel, if this replica serves them (others load on first use). Returns how many were refreshed."""
        refreshed = 0
        with self._lock:
            if kind in RANKER_KINDS and (tenant_id, kind) not in self._slots:  # a new tenant's first ranker
                self._schedule(tenant_id, kind, self._slots.setdefault((tenant_id, kind), _Slot()))
                return 1
            for (tenant, ranker), slot in self._slots.items():
                if tenant == tenant_id and (ranker == kind or kind in slot.channels):
                    refreshed += 1
                    if slot.pending is not None:
                        slot.again = True
                    else:
                        self._schedule(tenant, ranker, slot)
        return refreshed

    def wait_idle(self, timeout_s: float) -> bool:
        """Waits for every refresh in flight (tests and shutdown); False on timeout."""
        deadline = self._clock() + timeout_s
        while self._clock() < deadline:
            with self._lock:
                pending = [s.pending for s in self._slots.values() if s.pending is not None]
            if not pending:
                return True
            concurrent.futures.wait(pending, timeout=max(0.0, deadline - self._clock()))
        return False

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._load_executor.shutdown(wait=False, cancel_futures=True)

    def _schedule(self, tenant_id: str, kind: str, slot: _Slot) -> None:
        """Starts a refresh of the slot (the caller holds the lock and has checked none is in flight)."""
        slot.pending = asyncio.run_coroutine_threadsafe(self._refresh(tenant_id, kind, slot), self._loop)

    async def _refresh(self, tenant_id: str, kind: str, slot: _Slot) -> None:
        served, reason, channels = slot.served, slot.reason, slot.channels
        try:
            version = await self._registry.active(tenant_id, kind)
            if version is None:
                served, reason, channels = None, "no active version", frozenset()
            else:
                channels = frozenset(version.inputs)
                inputs: dict[str, str] = {}
                for channel, recorded in sorted(version.inputs.items()):
                    active = await self._registry.active(tenant_id, channel)
                    inputs[channel] = active.artifact_uri if active is not None else recorded
                artifacts = (version.artifact_uri, tuple(sorted(inputs.items())))
                if served is None or served.artifacts != artifacts:
                    started = time.perf_counter()
                    loop = asyncio.get_running_loop()
                    model = await loop.run_in_executor(self._load_executor, self._loader, version, inputs)
                    served = ServedRanker(kind, version.version, model, artifacts)
                    logger.info(
                        "serving %s v%d for tenant %s (channels %s), loaded in %.2f s",
                        kind,
                        version.version,
                        tenant_id,
                        ",".join(sorted(inputs)) or "none",
                        time.perf_counter() - started,
                        extra={"tenant_id": tenant_id},
                    )
        except Exception as exc:  # keep serving what was loaded; the next refresh tries again
            logger.exception("refreshing %s for tenant %s failed", kind, tenant_id, extra={"tenant_id": tenant_id})
            reason = f"load failed ({type(exc).__name__}: {exc})"[:300]
        finally:
            with self._lock:
                slot.served, slot.reason, slot.channels = served, reason, channels
                slot.checked_at = self._clock()
                slot.pending = None
                if slot.again:
                    slot.again = False
                    self._schedule(tenant_id, kind, slot)


async def _made(factory: Callable[[], ServedModels]) -> ServedModels:
    return factory()


class ArtifactLoader:
    """Loads a ranker and its input channels from the artifact store. Channel models are cached by artifact URI
    for a while, so a tenant's rankers over the same channels (fusion and deepfm) load each channel once."""

    def __init__(self, artifacts: ArtifactStore, cached_channels: int = 16) -> None:
        self._artifacts = artifacts
        self._cached_channels = cached_channels
        self._channels: OrderedDict[str, RecallModel] = OrderedDict()  # used from the single loader thread only

    def __call__(self, version: ModelVersion, inputs: Mapping[str, str]) -> RankerModel:
        if version.serves is not None and version.serves in inputs:  # the ranker guard chose a channel's order
            channel = self._channel(version.serves, inputs[version.serves])
            if isinstance(channel, CatalogRecall):
                return ChannelOrder(version.serves, channel, f"{version.kind} v{version.version}: {version.note}")
        recall = {channel: self._channel(channel, uri) for channel, uri in inputs.items()}
        model = load_model(version.kind, self._artifacts.path(version.artifact_uri), recall=recall)
        assert isinstance(model, RankerModel)
        freeze_loaded()
        return model

    def _channel(self, kind: str, uri: str) -> RecallModel:
        model = self._channels.pop(uri, None)
        if model is None:
            loaded = load_model(kind, self._artifacts.path(uri))
            assert isinstance(loaded, RecallModel)
            model = loaded
        self._channels[uri] = model
        while len(self._channels) > self._cached_channels:
            self._channels.popitem(last=False)
        return model
