"""Item vectors for `mmr by=embedding`: those of the tenant's active `content` (text) or `two_tower` version (the
first kind in the settings with an active version), loaded from its artifact off the request path.

A request takes what is loaded now: the first one for a tenant starts the load and gets nothing, so its MMR
compares categories (as it does for any list with an item lacking a vector). The registry is re-read at most
every `refresh_s`, and a newer version's vectors replace the old ones once loaded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from lemo.artifacts import ArtifactStore
from lemo.stores.ports import ActiveModels

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemVectors:
    artifact_uri: str
    index: Mapping[str, int]
    matrix: np.ndarray  # float32 [n_items, dim]

    def get(self, item_id: str) -> np.ndarray | None:
        row = self.index.get(item_id)
        return None if row is None else self.matrix[row]


@dataclass
class _Tenant:
    vectors: ItemVectors | None = None
    checked_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def load_vectors(kind: str, artifacts: ArtifactStore, uri: str) -> ItemVectors:
    from lemo.models import load_model  # torch and the models load only when a tenant uses embeddings

    model = load_model(kind, artifacts.path(uri))
    item_vectors = getattr(model, "item_vectors", None)
    if item_vectors is None:
        raise TypeError(f"a {kind} model has no item vectors")
    ids, matrix = item_vectors()
    return ItemVectors(uri, {item_id: n for n, item_id in enumerate(ids)}, np.asarray(matrix, dtype=np.float32))


class EmbeddingSource:
    def __init__(
        self,
        registry: ActiveModels,
        artifacts: ArtifactStore,
        kinds: Sequence[str],
        refresh_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._artifacts = artifacts
        self._kinds = list(kinds)
        self._refresh_s = refresh_s
        self._clock = clock
        self._tenants: dict[str, _Tenant] = {}

    def current(self, tenant_id: str) -> ItemVectors | None:
        """The tenant's vectors loaded now (None: not yet, or no active embedding model); starts a refresh when
        due."""
        state = self._tenants.setdefault(tenant_id, _Tenant())
        due = state.checked_at is None or self._clock() - state.checked_at >= self._refresh_s
        if due and state.task is None:
            state.task = asyncio.create_task(self._refresh(tenant_id, state))
        return state.vectors

    async def wait_loaded(self, tenant_id: str) -> ItemVectors | None:
        """Waits for the refresh in flight, if any (for tests and warm-up)."""
        self.current(tenant_id)
        task = self._tenants[tenant_id].task
        if task is not None:
            await asyncio.shield(task)
        return self._tenants[tenant_id].vectors

    async def _refresh(self, tenant_id: str, state: _Tenant) -> None:
        try:
            for kind in self._kinds:
                version = await self._registry.active(tenant_id, kind)
                if version is None:
                    continue
                if state.vectors is None or state.vectors.artifact_uri != version.artifact_uri:
                    state.vectors = await asyncio.to_thread(load_vectors, kind, self._artifacts, version.artifact_uri)
                    logger.info("%s v%d item vectors for tenant %s", kind, version.version, tenant_id)
                break
            else:
                state.vectors = None
        except Exception:  # keep what was loaded; MMR falls back to categories meanwhile
            logger.exception("loading item vectors for tenant %s failed", tenant_id, extra={"tenant_id": tenant_id})
        finally:
            state.checked_at = self._clock()
            state.task = None
