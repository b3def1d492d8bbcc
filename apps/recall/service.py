"""One recall request: the user's history and seen items, every requested channel concurrently under its own
deadline, then eligibility (exclusions, seen, hidden, expired, filters) and the merge. Also the item-to-item
and popular lists the /similar and /popular routes serve.

A channel that fails or runs past its deadline reports why and the others fill; the answer is never an error
because of a channel (the gateway serves popular items when every channel came back empty).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from apps.recall.catalog import CatalogView, TenantCatalog, filter_rule, passes
from apps.recall.channels import ChannelError, Channels, UserView, similar
from apps.recall.model_cache import ModelCache
from apps.recall.sources import HotSource, PopularStateSource, Ranked
from lemo.recall_merge import MergedCandidate, merge_channels
from lemo.scenarios import ChannelConfig
from lemo.serving.contract import Candidates, ChannelReport, RecallRequest, RecallResponse

logger = logging.getLogger(__name__)

SIMILAR_KINDS = ("item_cf", "two_tower", "content")


@dataclass(frozen=True)
class Listed:
    items: Ranked
    source: str | None
    version: int | None


@dataclass(frozen=True)
class _Outcome:
    report: ChannelReport
    hits: Ranked


class Recaller:
    def __init__(
        self,
        models: ModelCache,
        catalog: CatalogView,
        channels: Channels,
        hot: HotSource,
        popular_state: PopularStateSource,
        executor: Executor,
        *,
        history_wait_s: float,
        history_max: int,
        overfetch: float,
    ) -> None:
        self._models = models
        self._catalog = catalog
        self._channels = channels
        self._hot = hot
        self._popular_state = popular_state
        self._executor = executor
        self._history_wait_s = history_wait_s
        self._history_max = history_max
        self._overfetch = overfetch

    async def recall(self, tenant_id: str, request: RecallRequest) -> RecallResponse:
        now = time.time()
        catalog_task = asyncio.ensure_future(self._catalog_or_none(tenant_id))
        user = request.user
        stored, disliked = await self._stored(tenant_id, user.user_id)
        recent = list(user.recent_items)
        history = _unique([*recent, *stored])[: self._history_max]
        seen = _unique([*recent, *stored, *disliked])
        view = UserView(
            tenant_id=tenant_id,
            user_id=user.user_id,
            history=history,
            exclude=frozenset(request.exclude) | frozenset(seen),
            interests=user.interests,
            now=now,
        )
        configs: dict[str, ChannelConfig] = {c.name: c for c in request.channels if c.enabled}
        outcomes = await asyncio.gather(*(self._run(c, view) for c in configs.values()))
        catalog = await catalog_task
        rule = filter_rule(request.filters)

        def eligible(item_id: str) -> bool:
            if item_id in view.exclude:
                return False
            if catalog is None:  # the catalog could not be read: exclusions only (logged in _catalog_or_none)
                return True
            item = catalog.items.get(item_id)
            return item is not None and passes(item, rule, now)

        results: dict[str, Ranked] = {}
        reports = []
        for outcome in outcomes:
            kept = [(i, s) for i, s in outcome.hits if eligible(i)]
            results[outcome.report.name] = kept
            count = min(len(kept), configs[outcome.report.name].quota)
            reports.append(outcome.report.model_copy(update={"count": count}) if outcome.report.ok else outcome.report)
        merged = merge_channels(results, configs, (), request.limit)
        return RecallResponse(
            candidates=as_columns(merged, [r.name for r in reports if r.ok] if request.channel_scores else None),
            channels=reports,
            seen=seen,
        )

    async def _run(self, config: ChannelConfig, view: UserView) -> _Outcome:
        started = time.perf_counter()
        k = math.ceil(config.quota * self._overfetch)
        error: str | None = None
        try:
            hits = await asyncio.wait_for(self._channels.run(config.name, view, k), config.deadline_ms / 1000)
        except TimeoutError:
            error = f"timeout after {config.deadline_ms} ms"
        except ChannelError as exc:
            error = str(exc)
        except Exception as exc:
            logger.warning("channel %s failed: %r", config.name, exc, extra={"tenant_id": view.tenant_id})
            error = f"{type(exc).__name__}: {exc}"
        ms = round((time.perf_counter() - started) * 1000, 3)
        if error is None and ms > config.deadline_ms:
            # Scored on the event loop (a small catalog), the channel ran to its end past the deadline, which no
            # timer could cut: it is late all the same, and reported so.
            error = f"timeout after {config.deadline_ms} ms"
        if error is not None:
            return _Outcome(ChannelReport(name=config.name, ok=False, ms=ms, error=error), [])
        return _Outcome(ChannelReport(name=config.name, ok=True, ms=ms, version=hits.version), hits.items)

    async def _stored(self, tenant_id: str, user_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The user's stored positives (newest first) and dislikes from the tenant's active run."""
        try:
            histories = await asyncio.wait_for(asyncio.shield(self._models.histories(tenant_id)), self._history_wait_s)
        except Exception as exc:  # a request without stored history still answers from recent items
            logger.warning("stored histories unavailable: %r", exc, extra={"tenant_id": tenant_id})
            return (), ()
        if histories is None:
            return (), ()
        return histories.positives.get(user_id, ()), histories.negatives.get(user_id, ())

    async def _catalog_or_none(self, tenant_id: str) -> TenantCatalog | None:
        try:
            return await asyncio.wait_for(asyncio.shield(self._catalog.get(tenant_id)), self._history_wait_s)
        except Exception as exc:
            logger.warning("catalog view unavailable, eligibility unchecked: %r", exc, extra={"tenant_id": tenant_id})
            return None

    def _live(self, catalog: TenantCatalog | None, items: Iterable[tuple[str, float]], k: int) -> Ranked:
        now = time.time()
        out = [(i, s) for i, s in items if catalog is None or catalog.eligible(i, now)]
        return out[:k]

    async def similar(self, tenant_id: str, item_id: str, k: int) -> Listed:
        """The first of item_cf, two_tower, content with an active version that knows the item."""
        catalog = await self._catalog_or_none(tenant_id)
        fetch = math.ceil(k * self._overfetch)
        loop = asyncio.get_running_loop()
        for kind in SIMILAR_KINDS:
            try:
                served = await asyncio.wait_for(self._models.model(tenant_id, kind), self._history_wait_s)
            except TimeoutError:
                continue
            if served is None:
                continue
            hits = await loop.run_in_executor(self._executor, similar, served, tenant_id, item_id, fetch)
            live = self._live(catalog, hits, k)
            if live:
                return Listed(live, kind, served.version.version)
        return Listed([], None, None)

    async def popular(self, tenant_id: str, k: int) -> Listed:
        """Hot items; without any, the popular model's list; without one, the popularity workflow's list."""
        catalog = await self._catalog_or_none(tenant_id)
        fetch = math.ceil(k * self._overfetch)
        try:
            hot = self._live(catalog, await asyncio.wait_for(self._hot.get(tenant_id, fetch), 1.0), k)
            if hot:
                return Listed(hot, "hot", None)
        except Exception as exc:
            logger.warning("hot list unavailable: %r", exc, extra={"tenant_id": tenant_id})
        served = await self._models.model(tenant_id, "popular")
        if served is not None:
            return Listed(self._live(catalog, served.ranked[: fetch + 100], k), "popular", served.version.version)
        try:
            listed = await self._popular_state.get(tenant_id, fetch)
        except Exception as exc:
            logger.warning("popular list unavailable: %r", exc, extra={"tenant_id": tenant_id})
            listed = []
        return Listed(self._live(catalog, listed, k), "popular_state" if listed else None, None)


def as_columns(merged: Sequence[MergedCandidate], channels: Sequence[str] | None) -> Candidates:
    """The merged candidates as columns; with `channels`, each one's raw score per candidate (None: not found)."""
    columns = None
    if channels is not None:
        columns = {
            name: [hit.score if (hit := m.sources.get(name)) is not None else None for m in merged] for name in channels
        }
    return Candidates.model_construct(
        item_ids=[m.item_id for m in merged], scores=[m.score for m in merged], channels=columns
    )


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
