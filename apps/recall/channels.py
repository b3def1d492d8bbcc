"""The recall channels: each turns one user's view into (item_id, score) hits, best first, and names the model
version it served from. Scoring and vector search run in worker threads so that the channels of a request run
concurrently and a slow one can be abandoned at its deadline.

Where each channel gets its data:
  hot        realtime windowed popularity (ItemPopularityActor shards, sources.HotSource)
  popular    the active `popular` model; without one, the popularity workflow's list in Dapr state
  latest     the catalog view (MongoDB): live items by published_at
  item_cf, user_cf, als, ease   the active model of that kind, from history = realtime recent + stored history
  two_tower  the model's user vector -> ANN search in the version's Milvus collection
  content    mean text vector of the history's items -> ANN search in the content collection
  tag        the user's strongest interests ("c:<category>" / "t:<tag>") -> the catalog's items with those keys,
             most popular first
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from apps.recall.catalog import CatalogView
from apps.recall.model_cache import ModelCache, Served
from apps.recall.sources import HotSource, PopularStateSource, Ranked

T = TypeVar("T")
MODEL_CHANNELS = ("item_cf", "user_cf", "als", "ease")
MAX_FETCH = 5000
MAX_FILTER_IDS = 2000
NO_MODEL = "no active model"


class ChannelError(Exception):
    """A channel that cannot answer; the message becomes its report's error."""


@dataclass(frozen=True)
class UserView:
    tenant_id: str
    user_id: str
    history: Sequence[str]  # newest first: realtime recent items, then the stored history
    exclude: frozenset[str]  # the request's exclusions and everything the user has seen
    interests: Mapping[str, float]
    now: float


@dataclass(frozen=True)
class Hits:
    items: Ranked
    version: int | None = None


class Channels:
    def __init__(
        self,
        models: ModelCache,
        catalog: CatalogView,
        hot: HotSource,
        popular_state: PopularStateSource,
        executor: Executor | None,
        tag_interests: int,
        inline_max_items: int = 0,
    ) -> None:
        self._models = models
        self._catalog = catalog
        self._hot_list = hot
        self._popular_state = popular_state
        self._executor = executor
        self._tag_interests = tag_interests
        self._inline_max_items = inline_max_items

    async def run(self, name: str, user: UserView, k: int) -> Hits:
        if name in MODEL_CHANNELS:
            return await self._model_channel(name, user, k)
        channel = getattr(self, f"_{name}", None)
        if channel is None:
            raise ChannelError(f"unknown channel {name}")
        hits: Hits = await channel(user, k)
        return hits

    async def _thread(self, fn: Callable[..., T], served: Served, *args: object) -> T:
        """`fn(served, *args)` on a worker thread, or on the event loop itself when there are no workers
        (RECALL_WORKERS=0) or the model's catalog is small enough (`inline_max_items`) that the thread handoff
        costs more than the product."""
        if self._executor is None or _catalog_size(served) <= self._inline_max_items:
            return fn(served, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, served, *args)

    async def _served(self, tenant_id: str, kind: str) -> Served:
        served = await self._models.model(tenant_id, kind)
        if served is None:
            raise ChannelError(self._models.model_error(tenant_id, kind) or NO_MODEL)
        return served

    def _fetch(self, user: UserView, k: int) -> int:
        """How many to ask a source for, so that excluded items still leave k."""
        return min(MAX_FETCH, k + len(user.exclude))

    # --- realtime and shared lists -----------------------------------------------------------------------------

    async def _hot(self, user: UserView, k: int) -> Hits:
        return Hits(await self._hot_list.get(user.tenant_id, self._fetch(user, k)))

    async def _popular(self, user: UserView, k: int) -> Hits:
        served = await self._models.model(user.tenant_id, "popular")
        if served is not None:
            return Hits(_skip(served.ranked, user.exclude, k), served.version.version)
        listed = await self._popular_state.get(user.tenant_id, self._fetch(user, k))
        if not listed:
            raise ChannelError(f"{self._models.model_error(user.tenant_id, 'popular') or NO_MODEL}; no popular list")
        return Hits(listed)

    async def _latest(self, user: UserView, k: int) -> Hits:
        catalog = await self._catalog.get(user.tenant_id)
        return Hits(catalog.latest(self._fetch(user, k), user.now))

    async def _tag(self, user: UserView, k: int) -> Hits:
        keys = sorted(((w, key) for key, w in user.interests.items() if w > 0), reverse=True)[: self._tag_interests]
        if not keys:
            return Hits([])
        catalog = await self._catalog.get(user.tenant_id)
        popular = self._models.served(user.tenant_id, "popular")
        popularity: Mapping[str, float]
        token: object
        if popular is not None:
            popularity, token, version = popular.popularity, ("model", popular.version.version), popular.version.version
        else:
            listed = await self._popular_state.get(user.tenant_id, MAX_FETCH)
            popularity, token, version = dict(listed), ("state", tuple(listed[:3])), None
        top_weight = keys[0][0]
        top_pop = max(popularity.values(), default=0.0) or 1.0
        scores: dict[str, float] = {}
        for weight, key in keys:
            taken = 0
            for item_id in catalog.keyed(key, popularity, token):
                if item_id in user.exclude:
                    continue
                scores[item_id] = scores.get(item_id, 0.0) + weight / top_weight * (
                    1.0 + max(popularity.get(item_id, 0.0), 0.0) / top_pop
                )
                taken += 1
                if taken >= k:
                    break
        ranked = sorted(scores.items(), key=lambda p: (-p[1], p[0]))[:k]
        return Hits(ranked, version)

    # --- models --------------------------------------------------------------------------------------------------

    async def _model_channel(self, kind: str, user: UserView, k: int) -> Hits:
        served = await self._served(user.tenant_id, kind)
        items = await self._thread(_recommend, served, user, k)
        return Hits(items, served.version.version)

    async def _two_tower(self, user: UserView, k: int) -> Hits:
        served = await self._served(user.tenant_id, "two_tower")
        return Hits(await self._thread(_two_tower, served, user, k), served.version.version)

    async def _content(self, user: UserView, k: int) -> Hits:
        served = await self._served(user.tenant_id, "content")
        return Hits(await self._thread(_content, served, user, k), served.version.version)


def _skip(ranked: Ranked, exclude: frozenset[str], k: int) -> Ranked:
    out: Ranked = []
    for item_id, score in ranked:
        if item_id not in exclude:
            out.append((item_id, score))
            if len(out) >= k:
                break
    return out


def _recommend(served: Served, user: UserView, k: int) -> Ranked:
    return served.model.recommend(user.history, k, user_id=user.user_id, exclude=user.exclude)


def ann(served: Served, tenant_id: str, vector: np.ndarray, k: int, exclude: frozenset[str]) -> Ranked:
    """The k nearest items to `vector`: Milvus search in the version's collection, or an exact in-memory search
    for a small collection (`Served.exact`) and for a version whose collection could not be opened."""
    if served.index is not None and not served.exact:
        # Only excluded items the collection holds matter; the server leaves out up to MAX_FILTER_IDS of them
        # (a search's cost grows with its limit), any more are fetched and dropped here.
        known = sorted(i for i in exclude if i in served.item_index)
        filtered, dropped = known[:MAX_FILTER_IDS], known[MAX_FILTER_IDS:]
        hits = served.index.search(tenant_id, vector.tolist(), min(16384, k + len(dropped)), exclude=filtered)
        return _skip([(h.item_id, h.score) for h in hits], exclude, k)
    assert served.vectors is not None
    return exact_search(served.vectors, served.item_ids, served.item_index, vector, k, exclude)


def exact_search(
    vectors: np.ndarray,
    item_ids: Sequence[str],
    item_index: Mapping[str, int],
    vector: np.ndarray,
    k: int,
    exclude: frozenset[str],
) -> Ranked:
    """The k best inner products of `vector` with the rows of `vectors`, excluded items left out, ties by row."""
    scores = vectors @ vector
    rows = [n for n in (item_index.get(i) for i in exclude) if n is not None]
    if rows:
        scores[rows] = -np.inf
    take = min(k, len(scores) - len(rows))
    if take <= 0:
        return []
    top = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(len(scores))
    top = top[np.lexsort((top, -scores[top]))]
    return [(item_ids[n], float(scores[n])) for n in top]


def _two_tower(served: Served, user: UserView, k: int) -> Ranked:
    vector = served.model.user_vector(user.history, user.user_id)  # type: ignore[attr-defined]
    if vector is None:
        return []
    return ann(served, user.tenant_id, np.asarray(vector, dtype=np.float32), k, user.exclude | set(user.history))


def _content(served: Served, user: UserView, k: int) -> Ranked:
    rows = [n for n in (served.item_index.get(i) for i in user.history) if n is not None]
    if not rows or served.vectors is None:
        return []
    profile = served.vectors[rows].mean(axis=0)
    norm = float(np.linalg.norm(profile))
    if not math.isfinite(norm) or norm == 0.0:
        return []
    return ann(served, user.tenant_id, profile / norm, k, user.exclude | set(user.history))


def similar(served: Served, tenant_id: str, item_id: str, k: int) -> Ranked:
    """Items like `item_id`: ANN over the version's vectors for vector kinds, else the model's own notion."""
    vector = served.vector_of(item_id)
    if vector is not None:
        return ann(served, tenant_id, vector, k, frozenset({item_id}))
    return [(i, s) for i, s in served.model.similar_items(item_id, k + 1) if i != item_id][:k]


def _catalog_size(served: Served) -> int:
    """Items the model scores per request: its catalog (vector kinds: their collection's items)."""
    return len(getattr(served.model, "item_ids", None) or served.item_ids)
